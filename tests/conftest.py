"""Shared test fixtures: the real Quick, Draw! files beside the project root."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKDRAW = Path(os.environ.get("SKETCHKERAS_QUICKDRAW", ROOT.parent / "shared" / "quickdraw"))


@pytest.fixture(scope="session")
def quickdraw_dir():
    """Folder of Google's real files (simplified/, raw/, sketchrnn/, ...)."""
    if not (QUICKDRAW / "simplified").is_dir():
        pytest.fail(f"real Quick, Draw! data not found at {QUICKDRAW}")
    return QUICKDRAW


@pytest.fixture(scope="session")
def stroke_parquet():
    """Writes a dataset folder in sketchkeras 0.1.0's stroke layout, which loaders still read.

    0.1.0's `convert_to_parquet` stored `load_quickdraw`'s rows (a ClassLabel
    `word`, the float32 `(n, 3)` `strokes`), split by `split_dataset`, one
    parquet file per split, beside a dataset card.
    """
    from sketchkeras import load_quickdraw, split_dataset

    def write(source, out, classes, max_per_class=None):
        splits = split_dataset(load_quickdraw(source, classes=classes, max_per_class=max_per_class))
        (out / "data").mkdir(parents=True)
        for name, split in splits.items():
            split.to_parquet(out / "data" / f"{name}-00000-of-00001.parquet")
        (out / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# Quick, Draw! strokes (sketchkeras 0.1.0)\n")
        return out

    return write


CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying (and failing) to reach Google's servers.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing_browser():
    """What the browser tests lack, with how to get it; None when nothing is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package (pip install playwright)"
    return None if CHROMIUM.is_file() else f"{CHROMIUM} (apt-get install chromium)"


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (which downloads no browser).

    Skipped when /usr/bin/chromium or the playwright package is missing, unless SKETCHKERAS_REQUIRE_BROWSER=1
    (as in CI), which makes that a failure.
    """
    missing = _missing_browser()
    if missing:
        if os.environ.get("SKETCHKERAS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser tests need {missing}; SKETCHKERAS_REQUIRE_BROWSER=1 makes its absence a failure")
        pytest.skip(f"the browser tests need {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
