// A sketchkeras model in the browser: the forward pass of sketchkeras.live (NumPy) ported to JavaScript, over the
// whole drawing at each call, on the weights that sketchkeras.static_page wrote (model.json + weights.bin).
//
//   const model = await loadModel("model.json");
//   model.labels, model.maxPoints;
//   model.probabilities(rows)  // rows: canonical [dx, dy, penLifted] (preprocess.js) -> probabilities over labels
//
// Each point's features are (dx, dy, penLifted, x, y), x and y the float32 running sum of the offsets; then every
// conv stage (zero padding, convolution, normalisation, ReLU), every recurrent stage (a forward LSTM or GRU with
// Keras' gate order and activations), and the softmax head on the last step's output. Arithmetic is in doubles.

export async function loadModel(url) {
  const header = await (await load(url)).json();
  const data = new DataView(await (await load(new URL(header.weights, new URL(url, document.baseURI)))).arrayBuffer());
  const tensor = ({ offset, shape }) => {
    const values = new Float64Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = data.getFloat32(4 * (offset + i), true);
    return values;
  };
  const stages = header.stages.map((stage) =>
    stage.type === "conv" ? convStage(stage, tensor) : recurrentStage(stage, tensor),
  );
  const [kernel, bias] = [tensor(header.head.kernel), tensor(header.head.bias)];
  return {
    labels: header.labels,
    maxPoints: header.max_points,
    probabilities(rows) {
      if (rows.length === 0) throw new Error("a drawing needs at least one point");
      let x = new Float64Array(rows.length * 5);
      let [px, py] = [0, 0];
      rows.forEach(([dx, dy, lifted], t) => {
        px = Math.fround(px + dx);
        py = Math.fround(py + dy);
        x.set([dx, dy, lifted, px, py], t * 5);
      });
      let width = 5;
      for (const stage of stages) [x, width] = stage(x, width);
      const last = x.subarray(x.length - width);
      const logits = Float64Array.from(bias);
      for (let i = 0; i < width; i++) {
        for (let j = 0; j < logits.length; j++) logits[j] += last[i] * kernel[i * logits.length + j];
      }
      const top = Math.max(...logits);
      const exps = logits.map((v) => Math.exp(v - top));
      const sum = exps.reduce((a, b) => a + b, 0);
      return exps.map((v) => v / sum);
    },
  };
}

async function load(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status} ${response.statusText}`);
  return response;
}

// relu(norm(conv(x))) with `padding` zero steps around the sequence; ceil(steps / strides) output steps.
function convStage({ kernel_size: size, strides, padding: [left], filters, norm, ...weights }, tensor) {
  const [kernel, bias] = [tensor(weights.kernel), tensor(weights.bias)];
  const normalise = normalisation(norm, tensor);
  return (x, width) => {
    const steps = x.length / width;
    const outSteps = Math.ceil(steps / strides);
    const out = new Float64Array(outSteps * filters);
    const acc = new Float64Array(filters);
    for (let j = 0; j < outSteps; j++) {
      acc.set(bias);
      for (let k = 0; k < size; k++) {
        const t = j * strides - left + k;
        if (t < 0 || t >= steps) continue; // a zero step
        for (let c = 0; c < width; c++) {
          const v = x[t * width + c];
          if (v === 0) continue;
          const row = (k * width + c) * filters;
          for (let o = 0; o < filters; o++) acc[o] += v * kernel[row + o];
        }
      }
      normalise(acc);
      for (let o = 0; o < filters; o++) out[j * filters + o] = Math.max(acc[o], 0);
    }
    return [out, filters];
  };
}

// The inference-time normalisation, in place on one step's channels.
function normalisation(norm, tensor) {
  if (norm === null) return () => {};
  const [gamma, beta] = [tensor(norm.gamma), tensor(norm.beta)];
  if (norm.type === "batch") {
    const [mean, variance] = [tensor(norm.moving_mean), tensor(norm.moving_variance)];
    const scale = gamma.map((g, i) => g / Math.sqrt(variance[i] + norm.epsilon));
    const shift = beta.map((b, i) => b - mean[i] * scale[i]);
    return (x) => x.forEach((v, i) => (x[i] = v * scale[i] + shift[i]));
  }
  return (x) => {
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    const deviation = Math.sqrt(variance + norm.epsilon);
    x.forEach((v, i) => (x[i] = ((v - mean) / deviation) * gamma[i] + beta[i]));
  };
}

// A forward LSTM (gates i, f, c, o) or GRU (gates z, r, h; reset after the recurrent product, Keras' default) over
// the whole sequence, from zero state: its output at every step.
function recurrentStage({ type, units, ...weights }, tensor) {
  const [kernel, recurrent, bias] = [tensor(weights.kernel), tensor(weights.recurrent_kernel), tensor(weights.bias)];
  const gates = type === "lstm" ? 4 : 3;
  const n = gates * units;
  const sigmoid = (v) => 1 / (1 + Math.exp(-v));
  return (x, width) => {
    const steps = x.length / width;
    const out = new Float64Array(steps * units);
    const [h, c] = [new Float64Array(units), new Float64Array(units)];
    const [projected, inner] = [new Float64Array(n), new Float64Array(n)];
    for (let t = 0; t < steps; t++) {
      projected.set(bias.subarray(0, n)); // a GRU's bias is (2, 3 * units): input bias, then recurrent bias
      for (let i = 0; i < width; i++) {
        const v = x[t * width + i];
        if (v !== 0) for (let j = 0; j < n; j++) projected[j] += v * kernel[i * n + j];
      }
      if (type === "lstm") inner.fill(0);
      else inner.set(bias.subarray(n, 2 * n));
      for (let i = 0; i < units; i++) {
        const v = h[i];
        if (v !== 0) for (let j = 0; j < n; j++) inner[j] += v * recurrent[i * n + j];
      }
      for (let u = 0; u < units; u++) {
        if (type === "lstm") {
          const gate = (g) => projected[g * units + u] + inner[g * units + u];
          c[u] = sigmoid(gate(1)) * c[u] + sigmoid(gate(0)) * Math.tanh(gate(2));
          h[u] = sigmoid(gate(3)) * Math.tanh(c[u]);
        } else {
          const z = sigmoid(projected[u] + inner[u]);
          const r = sigmoid(projected[units + u] + inner[units + u]);
          h[u] = z * h[u] + (1 - z) * Math.tanh(projected[2 * units + u] + r * inner[2 * units + u]);
        }
      }
      out.set(h, t * units);
    }
    return [out, units];
  };
}
