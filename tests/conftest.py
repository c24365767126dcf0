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
