// The drawing page: records strokes in Google's raw format and shows the model's guesses as you draw.
// Clear keeps each finished drawing; Save downloads them all as Google raw ndjson, WORD.ndjson, made in the page.
"use strict";

const canvas = document.getElementById("canvas");
const ink = canvas.getContext("2d");
const guessList = document.getElementById("guesses");
const message = document.getElementById("message");
const wordInput = document.getElementById("word");
const collection = document.getElementById("collection");

let drawing = [];          // [[xs, ys, ts], ...]: canvas pixels, milliseconds since the first point
let firstPointTime = null; // the first point's event.timeStamp
let startedAt = null;      // the wall-clock time of the first point
let collected = [];        // the kept drawings, oldest first: { timestamp, key_id, drawing }
let pointerId = null;      // the pointer drawing the current stroke; null between strokes
let topK = 5;              // at most the number of labels
let asking = false;        // a request is in flight
let askAgain = false;      // the drawing changed while it was
let generation = 0;        // grows at each clear: answers about a cleared drawing are dropped

ink.lineWidth = 4;
ink.lineCap = "round";
ink.lineJoin = "round";
ink.strokeStyle = "#1f2328";

fetch("api/labels")
  .then(readAnswer)
  .then(({ labels }) => {
    topK = Math.min(5, labels.length);
    document.getElementById("labels").textContent =
      `Draw one of the ${labels.length} things this model knows: ${labels.join(", ")}.`;
  })
  .catch(showError);

canvas.addEventListener("pointerdown", (event) => {
  if (pointerId !== null || event.button !== 0) return;
  pointerId = event.pointerId;
  canvas.setPointerCapture(pointerId);
  if (firstPointTime === null) {
    firstPointTime = event.timeStamp;
    startedAt = new Date();
  }
  drawing.push([[], [], []]);
  addPoint(event);
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
  if (drawing.length === 0) return false;
  // Google's form of the time: 2017-01-29 02:42:16.318 UTC
  const timestamp = startedAt.toISOString().replace("T", " ").replace("Z", " UTC");
  collected.push({ timestamp, key_id: freshKeyId(), drawing });
  return true;
}

// Empties the canvas and the guesses.
function clearDrawing() {
  drawing = [];
  firstPointTime = null;
  startedAt = null;
  pointerId = null;
  askAgain = false;
  generation += 1;
  ink.clearRect(0, 0, canvas.width, canvas.height);
  guessList.replaceChildren();
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
      body: JSON.stringify({ drawing, top_k: topK }),
    });
    const { guesses } = await readAnswer(response);
    if (asked === generation) {
      showGuesses(guesses);
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
  message.textContent =
    error instanceof TypeError ? `cannot reach the server (is sketchkeras serve still running?): ${error.message}` : error.message;
}
