// The drawing page with no server behind it: records strokes in Google's raw format and, at most once per frame
// while you draw, runs the whole pipeline on the drawing so far in the page (preprocess.js, then model.js).
//
// window.recognize(rawDrawing, topK = 5) -> Promise of [{ label, probability }, ...], best first: the same guesses
// for any Google raw drawing [[xs, ys, ts], ...] (ts optional), without touching the canvas.
import { canonicalStrokes } from "./preprocess.js";
import { loadModel } from "./model.js";

const canvas = document.getElementById("canvas");
const ink = canvas.getContext("2d");
const guessList = document.getElementById("guesses");
const message = document.getElementById("message");

let drawing = [];          // [[xs, ys, ts], ...]: canvas pixels, milliseconds since the first point
let firstPointTime = null; // the first point's event.timeStamp
let pointerId = null;      // the pointer drawing the current stroke; null between strokes
let frame = null;          // the requested animation frame that will guess, if any

ink.lineWidth = 4;
ink.lineCap = "round";
ink.lineJoin = "round";
ink.strokeStyle = "#1f2328";

const model = loadModel("model.json");

window.recognize = async (rawDrawing, topK = 5) => guess(await model, rawDrawing, topK);

model
  .then(({ labels }) => {
    document.getElementById("labels").textContent =
      `Draw one of the ${labels.length} things this model knows: ${labels.join(", ")}.`;
  })
  .catch(showError);

canvas.addEventListener("pointerdown", (event) => {
  if (pointerId !== null || event.button !== 0) return;
  pointerId = event.pointerId;
  canvas.setPointerCapture(pointerId);
  if (firstPointTime === null) firstPointTime = event.timeStamp;
  drawing.push([[], [], []]);
  addPoint(event);
  ask();
});

canvas.addEventListener("pointermove", (event) => {
  if (event.pointerId !== pointerId) return;
  addPoint(event);
  ask();
});

for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, (event) => {
    if (event.pointerId !== pointerId) return;
    pointerId = null;
    ask();
  });
}

document.getElementById("clear").addEventListener("click", () => {
  drawing = [];
  firstPointTime = null;
  pointerId = null;
  if (frame !== null) cancelAnimationFrame(frame);
  frame = null;
  ink.clearRect(0, 0, canvas.width, canvas.height);
  guessList.replaceChildren();
  guessList.setAttribute("aria-busy", "false");
  message.textContent = "";
});

// The top-k guesses for a raw drawing.
function guess({ labels, maxPoints, probabilities }, rawDrawing, topK) {
  const p = probabilities(canonicalStrokes(rawDrawing, maxPoints));
  const order = [...labels.keys()].sort((a, b) => p[b] - p[a] || a - b); // ties: the lower label id first
  return order.slice(0, topK).map((i) => ({ label: labels[i], probability: p[i] }));
}

// Guesses at the next frame, on the drawing as it is then: one forward pass per frame however fast points arrive.
function ask() {
  guessList.setAttribute("aria-busy", "true");
  if (frame !== null) return;
  frame = requestAnimationFrame(async () => {
    frame = null;
    try {
      const loaded = await model;
      if (drawing.length === 0) return;
      showGuesses(guess(loaded, drawing, Math.min(5, loaded.labels.length)));
      message.textContent = "";
    } catch (error) {
      showError(error);
    } finally {
      if (frame === null) guessList.setAttribute("aria-busy", "false");
    }
  });
}

// Appends the event's position to the current stroke and inks the segment leading to it.
function addPoint(event) {
  const box = canvas.getBoundingClientRect();
  const x = Math.round(((event.clientX - box.left - canvas.clientLeft) * canvas.width) / canvas.clientWidth);
  const y = Math.round(((event.clientY - box.top - canvas.clientTop) * canvas.height) / canvas.clientHeight);
  const [xs, ys, ts] = drawing[drawing.length - 1];
  const last = xs.length - 1;
  ink.beginPath();
  ink.moveTo(last < 0 ? x : xs[last], last < 0 ? y : ys[last]);
  ink.lineTo(x, y);
  ink.stroke();
  xs.push(x);
  ys.push(y);
  ts.push(Math.round(event.timeStamp - firstPointTime));
}

function showGuesses(guesses) {
  guessList.replaceChildren(
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

function showError(error) {
  message.textContent = error.message;
}
