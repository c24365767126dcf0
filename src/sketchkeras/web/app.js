// The drawing page: records strokes in Google's raw format and shows the model's guesses as you draw.
// Clear keeps each finished drawing; Save downloads them all as Google raw ndjson, WORD.ndjson, made in the page.
// The canvas and the guess list are pad.js's, shared with the static page (standalone/app.js).
import { DrawingPad, showGuesses } from "./pad.js";

const guessList = document.getElementById("guesses");
const message = document.getElementById("message");
const wordInput = document.getElementById("word");
const collection = document.getElementById("collection");

const pad = new DrawingPad(document.getElementById("canvas"), (event) => {
  if (event.type !== "pointerdown") ask(); // at each move and each stroke's end, not at a stroke's first point
});

let collected = [];        // the kept drawings, oldest first: { timestamp, key_id, drawing }
let topK = 5;              // at most the number of labels
let asking = false;        // a request is in flight
let askAgain = false;      // the drawing changed while it was
let generation = 0;        // grows at each clear: answers about a cleared drawing are dropped

fetch("api/labels")
  .then(readAnswer)
  .then(({ labels }) => {
    topK = Math.min(5, labels.length);
    document.getElementById("labels").textContent =
      `Draw one of the ${labels.length} things this model knows: ${labels.join(", ")}.`;
  })
  .catch(showError);

document.getElementById("clear").addEventListener("click", () => {
  if (keepDrawing()) collection.textContent = `${plural(collected.length)} collected.`;
  clearDrawing();
});

document.getElementById("save-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const word = wordInput.value.trim();
  if (word === "") {
    wordInput.setAttribute("aria-invalid", "true");
    wordInput.focus();
    collection.textContent = "Type the word your drawings show before saving them.";
    return;
  }
  wordInput.removeAttribute("aria-invalid");
  keepDrawing();
  if (collected.length === 0) {
    collection.textContent = "Nothing to save yet: draw something first.";
    return;
  }
  // Google's raw records, their keys in Google's order.
  const lines = collected.map(({ timestamp, key_id, drawing }) =>
    `${JSON.stringify({ word, countrycode: "", timestamp, recognized: false, key_id, drawing })}\n`);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob(lines, { type: "application/x-ndjson" }));
  link.download = `${word}.ndjson`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 40_000); // a download may still be reading it just after the click
  collection.textContent = `Saved ${plural(collected.length)} as ${link.download}.`;
  collected = [];
  clearDrawing();
});

// Adds the drawing on the canvas, if any, to the collection; says whether there was one.
function keepDrawing() {
  if (pad.drawing.length === 0) return false;
  // Google's form of the time: 2017-01-29 02:42:16.318 UTC
  const timestamp = pad.startedAt.toISOString().replace("T", " ").replace("Z", " UTC");
  collected.push({ timestamp, key_id: freshKeyId(), drawing: pad.drawing });
  return true;
}

// Empties the canvas and the guesses.
function clearDrawing() {
  pad.clear();
  askAgain = false;
  generation += 1;
  showGuesses(guessList, []);
  message.textContent = "";
}

// A random 16-digit decimal key_id, the form of Google's.
function freshKeyId() {
  const [random] = crypto.getRandomValues(new BigUint64Array(1));
  return String(10n ** 15n + (random % (9n * 10n ** 15n)));
}

function plural(count) {
  return count === 1 ? "1 drawing" : `${count} drawings`;
}

// Posts the drawing so far; while a request is in flight, only the newest drawing waits for the next one.
async function ask() {
  if (asking) {
    askAgain = true;
    return;
  }
  asking = true;
  guessList.setAttribute("aria-busy", "true");
  const asked = generation;
  try {
    const response = await fetch("api/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ drawing: pad.drawing, top_k: topK }),
    });
    const { guesses } = await readAnswer(response);
    if (asked === generation) {
      showGuesses(guessList, guesses);
      message.textContent = "";
    }
  } catch (error) {
    if (asked === generation) showError(error);
  } finally {
    asking = false;
    if (askAgain) {
      askAgain = false;
      ask();
    } else {
      guessList.setAttribute("aria-busy", "false");
    }
  }
}

// The JSON body of a response; throws the server's message for an error status.
async function readAnswer(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail ?? `${response.status} ${response.statusText}`);
  return body;
}

function showError(error) {
  message.textContent =
    error instanceof TypeError ? `cannot reach the server (is sketchkeras serve still running?): ${error.message}` : error.message;
}
