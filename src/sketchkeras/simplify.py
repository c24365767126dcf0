"""Google's raw -> simplified conversion of Quick, Draw! drawings.

The quickdraw-dataset README lists four steps: align the drawing to the
top-left corner, scale it uniformly so its largest value is 255, resample
every stroke at 1-pixel spacing, then simplify every stroke with
Ramer-Douglas-Peucker at epsilon 2.0. The arithmetic below was fixed by
matching Google's own (raw, simplified) pairs, which share a ``key_id``:

* scale as ``(v - min) * 255 / extent``, one extent for both axes;
* resample by arc length: a point every 1 px from the stroke's first point,
  then its last point, interpolating ``a * (1 - t) + b * t`` between raw
  points, with lengths ``sqrt(dx * dx + dy * dy)``;
* RDP measures the distance to the line through the end points, keeps the
  first farthest point, and splits only when that distance exceeds epsilon;
* coordinates are rounded (half to even) only at the end.

Equidistant points are common after resampling, so these float details
decide which one RDP keeps. With them, 6,255 of the 6,257 pairs in the test
data come out identical to Google's. A one-point stroke becomes two equal
points, as in Google's files.
"""

import math

import numpy as np


def rdp(points, epsilon):
    """Simplify a polyline with Ramer-Douglas-Peucker; return the kept points.

    A point is kept when it is the first farthest of its span and lies more
    than ``epsilon`` from the line through the span's ends (from the start
    when both ends coincide).

    >>> rdp([[0, 0], [1, 0.1], [2, 0], [3, 5]], 1.0).tolist()
    [[0.0, 0.0], [2.0, 0.0], [3.0, 5.0]]
    """
    points = np.asarray(points, dtype=float)
    x, y = points.T
    xs, ys = x.tolist(), y.tolist()  # Python floats: same IEEE maths, faster scalars
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, len(points) - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        x0, y0 = xs[first], ys[first]
        dx, dy = xs[last] - x0, ys[last] - y0
        ix, iy = x[first + 1 : last] - x0, y[first + 1 : last] - y0
        length = math.sqrt(dx * dx + dy * dy)
        if length:
            dist = np.abs(dx * iy - dy * ix) / length
        else:
            dist = np.sqrt(ix * ix + iy * iy)
        far = int(dist.argmax())
        if dist[far] > epsilon:
            far += first + 1
            keep[far] = True
            spans += [(first, far), (far, last)]
    return points[keep]


def _resample(xy):
    """Points every 1 px of arc length from the first point, then the last."""
    steps = np.diff(xy, axis=0)
    moving = (steps != 0).any(axis=1)
    steps, starts, ends = steps[moving], xy[:-1][moving], xy[1:][moving]
    if not len(steps):
        return xy[[0, -1]]
    lengths = np.sqrt(steps[:, 0] ** 2 + steps[:, 1] ** 2)
    along = np.concatenate([[0.0], np.cumsum(lengths)])
    marks = np.arange(0.0, along[-1], 1.0)
    seg = np.searchsorted(along, marks, side="right") - 1
    t = ((marks - along[seg]) / lengths[seg])[:, None]
    return np.vstack([starts[seg] * (1 - t) + ends[seg] * t, xy[-1:]])


def simplify_drawing(drawing):
    """Convert a raw drawing to Google's simplified format.

    ``drawing`` is a list of strokes ``[xs, ys]`` or ``[xs, ys, ts]``; the
    result is a list of ``[xs, ys]`` integer lists in 0..255.

    >>> simplify_drawing([[[100, 300], [50, 60], [0, 250]], [[200], [150]]])
    [[[0, 255], [0, 13]], [[128, 128], [128, 128]]]
    """
    strokes = [np.asarray(stroke[:2], dtype=float).T for stroke in drawing]
    if not strokes or any(s.ndim != 2 or s.shape[1] != 2 or not len(s) for s in strokes):
        raise ValueError("a drawing needs strokes [xs, ys] of at least one point each")
    points = np.concatenate(strokes)
    with np.errstate(over="ignore"):  # finite but extreme coordinates: scale down before subtracting
        if not np.isfinite(points.max(axis=0) - points.min(axis=0)).all():
            largest = np.abs(points).max()
            strokes, points = [stroke / largest for stroke in strokes], points / largest
    low = points.min(axis=0)
    extent = (points - low).max()
    simplified = []
    for stroke in strokes:
        # An extent below the smallest normal float is a point (255 / extent would overflow); past
        # float max / 255, divide before multiplying (Google's order, kept for all others, rounds alike).
        if extent < np.finfo(float).tiny:
            xy = np.zeros_like(stroke)
        elif extent > np.finfo(float).max / 255:
            xy = (stroke - low) / extent * 255
        else:
            xy = (stroke - low) * 255 / extent
        xs, ys = np.rint(rdp(_resample(xy), 2.0)).astype(int).T
        simplified.append([xs.tolist(), ys.tolist()])
    return simplified
