// The preprocessing every sketchkeras model expects, outside Python: a Google *raw* drawing (strokes [xs, ys, ts]
// in screen coordinates; ts is ignored) -> Google's simplified drawing -> the canonical (dx, dy, pen_lifted) input.
// It is a line-by-line port of sketchkeras.simplify.simplify_drawing and of sketchkeras.strokes.canonical_strokes
// (format="raw"), in IEEE doubles like NumPy's float64, in the same order of operations, so the simplified
// integers are identical and the canonical values are the same float32 numbers.
//
//   simplifyDrawing(raw)          -> [[xs, ys], ...], integers 0..255 (Google's simplified format)
//   canonicalStrokes(raw, limit)  -> [[dx, dy, penLifted], ...], float32 values, at most `limit` rows
//
// Simplification (Google's four steps, with the float details that decide which points survive):
//   1. align and scale: v -> (v - min) * 255 / extent, one extent (the longer side) for both axes;
//   2. resample every stroke by arc length: a point every 1 px from its first point (a point at each whole
//      length 0, 1, ... below the stroke's length), interpolating a * (1 - t) + b * t between raw points,
//      segment lengths sqrt(dx * dx + dy * dy), then the stroke's last point; a stroke that never moves gives
//      its first and last points;
//   3. Ramer-Douglas-Peucker with epsilon 2: the distance of each inner point to the line through the span's
//      ends (to the start when they coincide); the first farthest point splits the span when over epsilon;
//   4. round half to even, only at the end.
// Canonical strokes: the simplified points are aligned to their minimum and multiplied by 1 / extent (the longer
// side; all zeros for a single point), so the drawing spans 0..1; each row holds the offset from the previous
// point (the first row the first point itself), rounded to float32, and 1 as pen_lifted on each stroke's last
// point; then only the first `limit` rows are kept.

const TINY = 2.2250738585072014e-308; // the smallest normal double: a smaller extent is a single point
const HUGE = Number.MAX_VALUE / 255; // past this extent, divide before multiplying by 255

// Google's simplification of a raw drawing; throws on an empty drawing, an empty or ragged stroke, or a coordinate
// that is not a finite number.
export function simplifyDrawing(drawing) {
  const strokes = readStrokes(drawing);
  const all = strokes.flat();
  let [lowX, lowY, highX, highY] = bounds(all);
  if (!Number.isFinite(highX - lowX) || !Number.isFinite(highY - lowY)) {
    // finite but extreme coordinates: scale down before subtracting
    const largest = all.reduce((most, [x, y]) => Math.max(most, Math.abs(x), Math.abs(y)), 0);
    for (const point of all) [point[0], point[1]] = [point[0] / largest, point[1] / largest]; // strokes share them
    [lowX, lowY, highX, highY] = bounds(all);
  }
  const extent = Math.max(highX - lowX, highY - lowY);
  return strokes.map((stroke) => {
    const scaled = stroke.map(([x, y]) => {
      if (extent < TINY) return [0, 0];
      if (extent > HUGE) return [((x - lowX) / extent) * 255, ((y - lowY) / extent) * 255];
      return [((x - lowX) * 255) / extent, ((y - lowY) * 255) / extent];
    });
    const kept = rdp(resample(scaled), 2.0);
    return [kept.map(([x]) => roundHalfEven(x)), kept.map(([, y]) => roundHalfEven(y))];
  });
}

// The canonical model input of a raw drawing: float32 rows [dx, dy, penLifted], at most `limit` of them.
export function canonicalStrokes(drawing, limit = Infinity) {
  const simplified = simplifyDrawing(drawing);
  const points = simplified.flatMap(([xs, ys]) => xs.map((x, i) => [x, ys[i]]));
  const [lowX, lowY, highX, highY] = bounds(points);
  const extent = Math.max(highX - lowX, highY - lowY);
  const scale = 1.0 / extent;
  const unit = points.map(([x, y]) => (extent >= TINY ? [(x - lowX) * scale, (y - lowY) * scale] : [0, 0]));
  const rows = unit.map(([x, y], i) => {
    const [dx, dy] = i === 0 ? [x, y] : [x - unit[i - 1][0], y - unit[i - 1][1]];
    return [Math.fround(dx), Math.fround(dy), 0];
  });
  let end = 0;
  for (const [xs] of simplified) {
    end += xs.length;
    rows[end - 1][2] = 1;
  }
  return rows.slice(0, limit);
}

// Strokes as arrays of [x, y] points (fresh arrays: the caller's drawing is not changed).
function readStrokes(drawing) {
  if (!Array.isArray(drawing) || drawing.length === 0) throw new Error("empty drawing (no strokes)");
  return drawing.map((stroke, i) => {
    if (!Array.isArray(stroke) || stroke.length < 2 || !Array.isArray(stroke[0]) || !Array.isArray(stroke[1])) {
      throw new Error(`stroke ${i} must be [xs, ys] or [xs, ys, ts]`);
    }
    const [xs, ys] = stroke;
    if (xs.length === 0 || xs.length !== ys.length) throw new Error(`stroke ${i} needs as many xs as ys, at least one`);
    return xs.map((x, j) => {
      if (typeof x !== "number" || typeof ys[j] !== "number" || !Number.isFinite(x) || !Number.isFinite(ys[j])) {
        throw new Error(`stroke ${i}: coordinates must be finite numbers`);
      }
      return [x, ys[j]];
    });
  });
}

function bounds(points) {
  let [lowX, lowY, highX, highY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of points) {
    lowX = Math.min(lowX, x);
    lowY = Math.min(lowY, y);
    highX = Math.max(highX, x);
    highY = Math.max(highY, y);
  }
  return [lowX, lowY, highX, highY];
}

// A point every 1 px of arc length from the first point, then the last (simplify.py's _resample).
function resample(points) {
  const segments = [];
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1], points[i]];
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    if (dx !== 0 || dy !== 0) segments.push({ a, b, length: Math.sqrt(dx * dx + dy * dy) });
  }
  const last = points[points.length - 1];
  if (segments.length === 0) return [points[0], last];
  const along = [0.0]; // cumulative length at each segment's start, then the total
  for (const { length } of segments) along.push(along[along.length - 1] + length);
  const total = along[along.length - 1];
  const out = [];
  let seg = 0;
  for (let mark = 0; mark < total; mark += 1) {
    while (seg + 1 < segments.length && along[seg + 1] <= mark) seg += 1; // the last segment starting at or before
    const { a, b, length } = segments[seg];
    const t = (mark - along[seg]) / length;
    out.push([a[0] * (1 - t) + b[0] * t, a[1] * (1 - t) + b[1] * t]);
  }
  out.push(last);
  return out;
}

// Ramer-Douglas-Peucker (simplify.py's rdp): the kept points, in order.
function rdp(points, epsilon) {
  const keep = points.map((_, i) => i === 0 || i === points.length - 1);
  const spans = [[0, points.length - 1]];
  while (spans.length) {
    const [first, last] = spans.pop();
    if (last - first < 2) continue;
    const [x0, y0] = points[first];
    const [dx, dy] = [points[last][0] - x0, points[last][1] - y0];
    const length = Math.sqrt(dx * dx + dy * dy);
    let far = -1;
    let farthest = -Infinity;
    for (let i = first + 1; i < last; i++) {
      const [ix, iy] = [points[i][0] - x0, points[i][1] - y0];
      const dist = length ? Math.abs(dx * iy - dy * ix) / length : Math.sqrt(ix * ix + iy * iy);
      if (dist > farthest) [far, farthest] = [i, dist];
    }
    if (farthest > epsilon) {
      keep[far] = true;
      spans.push([first, far], [far, last]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

// NumPy's rint: to the nearest integer, halves to even (and never -0).
function roundHalfEven(v) {
  const r = v - Math.floor(v) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v);
  return r + 0;
}
