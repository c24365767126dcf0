// The drawing page with no server behind it: records strokes in Google's raw format and, at most once per frame
// while you draw, runs the whole pipeline on the drawing so far in the page (preprocess.js, then model.js).
// The canvas and the guess list are pad.js's, shared with the served demo (../app.js).
//
// window.recognize(rawDrawing, topK = 5) -> Promise of [{ label, probability }, ...], best first: the same guesses
// for any Google raw drawing [[xs, ys, ts], ...] (ts optional), without touching the canvas.
import { canonicalStrokes } from "./preprocess.js";
import { loadModel } from "./model.js";
import { DrawingPad, showGuesses } from "./pad.js";

const guessList = document.getElementById("guesses");
const message = document.getElementById("message");
const pad = new DrawingPad(document.getElementById("canvas"), ask);

let frame = null; // the requested animation frame that will guess, if any

const model = loadModel("model.json");

window.recognize = async (rawDrawing, topK = 5) => guess(await model, rawDrawing, topK);

model
  .then(({ labels }) => {
    document.getElementById("labels").textContent =
      `Draw one of the ${labels.length} things this model knows: ${labels.join(", ")}.`;
  })
  .catch(showError);

document.getElementById("clear").addEventListener("click", () => {
  pad.clear();
  if (frame !== null) cancelAnimationFrame(frame);
  frame = null;
  showGuesses(guessList, []);
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
      if (pad.drawing.length === 0) return;
      showGuesses(guessList, guess(loaded, pad.drawing, Math.min(5, loaded.labels.length)));
      message.textContent = "";
    } catch (error) {
      showError(error);
    } finally {
      if (frame === null) guessList.setAttribute("aria-busy", "false");
    }
  });
}

function showError(error) {
  message.textContent = error.message;
}
