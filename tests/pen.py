"""Drawing real Quick, Draw! drawings on a page's canvas with Playwright's mouse (the browser tests share it)."""

MARGIN = 25  # canvas pixels left blank around a drawing drawn with the mouse
BLANK = "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.every(v => v === 0)"  # is the canvas blank


def fit(drawing, size):
    """The drawing's strokes `[xs, ys]` in whole canvas pixels, scaled uniformly to fit a `size` x `size`
    canvas. A point that lands on the one before it is dropped: the mouse would not move, and no event
    would record it."""
    xs = [x for stroke in drawing for x in stroke[0]]
    ys = [y for stroke in drawing for y in stroke[1]]
    scale = (size - 2 * MARGIN) / max(max(xs) - min(xs), max(ys) - min(ys))
    strokes = []
    for stroke in drawing:
        points = [
            (round(MARGIN + (x - min(xs)) * scale), round(MARGIN + (y - min(ys)) * scale)) for x, y in zip(*stroke[:2])
        ]
        points = [point for i, point in enumerate(points) if i == 0 or point != points[i - 1]]
        strokes.append([[x for x, _ in points], [y for _, y in points]])
    return strokes


def draw(page, strokes, before_lift=None):
    """Draws strokes (canvas pixels) on the page's `#canvas` with the mouse; `before_lift(i)` runs with the pen
    still down at the end of stroke `i`."""
    left, top, scale = page.eval_on_selector(
        "#canvas",
        "c => { const box = c.getBoundingClientRect(); "
        "return [box.left + c.clientLeft, box.top + c.clientTop, c.clientWidth / c.width]; }",
    )
    for i, (xs, ys) in enumerate(strokes):
        page.mouse.move(left + xs[0] * scale, top + ys[0] * scale)
        page.mouse.down()
        for x, y in zip(xs[1:], ys[1:]):
            page.mouse.move(left + x * scale, top + y * scale)
        if before_lift is not None:
            before_lift(i)
        page.mouse.up()
