// What both drawing pages share (the served demo's app.js and the static page's standalone/app.js import it):
// the canvas that records strokes in Google's raw format, and the list that shows the guesses.
//
// new DrawingPad(canvas, onChange): inks what the mouse, pen or finger draws on canvas and keeps it as
// pad.drawing, [[xs, ys, ts], ...] in canvas pixels and milliseconds since the first point, with pad.startedAt the
// wall-clock time of that point; onChange(event) follows every point added ("pointerdown", "pointermove") and every
// stroke's end ("pointerup", "pointercancel"). pad.clear() empties the canvas and starts a new drawing.
//
// showGuesses(list, guesses): shows [{ label, probability }, ...] in the <ol> list, one item each; [] empties it.

export class DrawingPad {
  drawing = []; // [[xs, ys, ts], ...]: canvas pixels, milliseconds since the first point
  startedAt = null; // the wall-clock time of the first point
  #firstPointTime = null; // the first point's event.timeStamp
  #pointerId = null; // the pointer drawing the current stroke; null between strokes

  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ink = canvas.getContext("2d");
    this.ink.lineWidth = 4;
    this.ink.lineCap = "round";
    this.ink.lineJoin = "round";
    this.ink.strokeStyle = "#1f2328";

    canvas.addEventListener("pointerdown", (event) => {
      if (this.#pointerId !== null || event.button !== 0) return;
      this.#pointerId = event.pointerId;
      canvas.setPointerCapture(this.#pointerId);
      if (this.#firstPointTime === null) {
        this.#firstPointTime = event.timeStamp;
        this.startedAt = new Date();
      }
      this.drawing.push([[], [], []]);
      this.#addPoint(event);
      onChange(event);
    });

    canvas.addEventListener("pointermove", (event) => {
      if (event.pointerId !== this.#pointerId) return;
      this.#addPoint(event);
      onChange(event);
    });

    for (const type of ["pointerup", "pointercancel"]) {
      canvas.addEventListener(type, (event) => {
        if (event.pointerId !== this.#pointerId) return;
        this.#pointerId = null;
        onChange(event);
      });
    }
  }

  // Empties the canvas; the next point starts a new drawing (the old one's array is left as it was).
  clear() {
    this.drawing = [];
    this.startedAt = null;
    this.#firstPointTime = null;
    this.#pointerId = null;
    this.ink.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  // Appends the event's position to the current stroke and inks the segment leading to it.
  #addPoint(event) {
    const canvas = this.canvas;
    const box = canvas.getBoundingClientRect();
    const x = Math.round(((event.clientX - box.left - canvas.clientLeft) * canvas.width) / canvas.clientWidth);
    const y = Math.round(((event.clientY - box.top - canvas.clientTop) * canvas.height) / canvas.clientHeight);
    const [xs, ys, ts] = this.drawing[this.drawing.length - 1];
    const last = xs.length - 1;
    this.ink.beginPath();
    this.ink.moveTo(last < 0 ? x : xs[last], last < 0 ? y : ys[last]);
    this.ink.lineTo(x, y);
    this.ink.stroke();
    xs.push(x);
    ys.push(y);
    ts.push(Math.round(event.timeStamp - this.#firstPointTime));
  }
}

export function showGuesses(list, guesses) {
  list.replaceChildren(
    ...guesses.map(({ label, probability }) => {
      const item = document.createElement("li");
      item.dataset.label = label;
      item.dataset.probability = probability;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = label;
      const percent = document.createElement("span");
      percent.className = "probability";
      percent.textContent = `${(100 * probability).toFixed(1)}%`;
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = `${100 * probability}%`;
      item.append(name, percent, bar);
      return item;
    }),
  );
}
