// The page: draw, send the drawing to the API, show what every layer made of it, and work out
// any pixel that is clicked. The API is described in scratchconv/serve/app.py.

import { decode, pixelAt, pixelCanvas, range, viridis } from "./arrays.js";
import { DrawingPad } from "./pad.js";

const TOP = 5;          // predictions shown
const MAP_SIZE = 80;    // about how many screen pixels wide a feature map is drawn

const $ = (id) => document.getElementById(id);

const state = {
  model: null,      // GET /api/model
  input: null,      // the image the model saw, decoded
  selected: null,   // the clicked pixel: {layer, row, col, channel}
  field: null,      // its receptive field on the input: [top, left, bottom, right]
  runeFont: true,   // whether the browser can draw runes
};

// ---------------------------------------------------------------------------------------------
// The API.

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", body, headers: { "Content-Type": "image/png" },
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error);
  return answer;
}

/** Show what went wrong (null: nothing, and hide the line). */
function showError(error) {
  $("error").hidden = error === null;
  $("error").textContent = error === null ? "" : `The server answered: ${error.message}`;
}

// ---------------------------------------------------------------------------------------------
// Keeping the page in step with the drawing: one request at a time, and when the drawing
// changed meanwhile, one more for its latest state.

let busy = false;
let again = false;

async function refresh() {
  if (!state.model) return;  // start() refreshes once the model is known
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    do {
      again = false;
      const version = pad.version;
      const png = await pad.png();
      showLayers(await api("/api/layers", png), version);
      if (state.selected) showPixel(await api(explainPath(state.selected), png));
    } while (again);
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    busy = false;
  }
}

const pad = new DrawingPad($("pad"), refresh);

// ---------------------------------------------------------------------------------------------
// Predictions, the input the model sees, the filters and the feature maps.

/** Whether this browser has a font with the runes: two runes drawn alike are two empty boxes. */
function runesHaveAFont() {
  const draw = (text) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    const context = canvas.getContext("2d");
    context.font = "24px sans-serif";
    context.fillText(text, 4, 26);
    return context.getImageData(0, 0, 32, 32).data.join();
  };
  return draw("ᚠ") !== draw("ᚱ");
}

const RUNE_CHARACTERS = /[\u16A0-\u16FF]\s*/g;

/** A class name as shown: without a font for the runes, "ᚱ raidho" is shown as "raidho". */
function label(name) {
  const spelled = name.replace(RUNE_CHARACTERS, "");
  return state.runeFont || spelled === "" ? name : spelled;
}

function showPredictions(predictions, version) {
  const list = $("prediction");
  list.replaceChildren(...predictions.slice(0, TOP).map(({ class: name, probability }) => {
    const item = document.createElement("li");
    item.innerHTML = `<span class="name"></span><span class="bar"><span></span></span>
      <span class="probability">${(100 * probability).toFixed(1)}%</span>`;
    item.dataset.class = name;
    item.querySelector(".name").textContent = label(name);
    item.querySelector(".bar span").style.width = `${100 * probability}%`;
    return item;
  }));
  list.dataset.version = String(version);
}

function showInput() {
  const canvas = $("seen-image");
  const context = canvas.getContext("2d");
  const [h, w, c] = state.input.shape;
  const gray = (row, col) => {
    const v = Array.from({ length: c }, (_, k) => state.input.at(row, col, k));
    const rgb = c === 3 ? v : [v[0], v[0], v[0]];
    return rgb.map((x) => Math.round(255 * x));
  };
  context.imageSmoothingEnabled = false;
  context.drawImage(pixelCanvas(w, h, gray, 1), 0, 0, canvas.width, canvas.height);
  if (state.field) {
    const [top, left, bottom, right] = state.field;
    const sx = canvas.width / w;
    const sy = canvas.height / h;
    context.strokeStyle = "#f5c542";
    context.lineWidth = 2;
    context.strokeRect(left * sx + 1, top * sy + 1, (right - left) * sx - 2, (bottom - top) * sy - 2);
  }
}

function showFilters(filters) {
  const box = $("filters");
  if (!filters) {
    $("filters-note").textContent = "This model has no convolution layer.";
    return;
  }
  const kernel = decode(filters);
  const [kh, kw, cin, cout] = kernel.shape;
  $("filters-note").textContent = `${filters.layer}: ${cout} filters of ${kh}x${kw}x${cin}, each `
    + (cin === 3 ? "shown as colours (red, green, blue input channels)" : "averaged over its input channels")
    + " on its own scale.";
  const canvases = [];
  for (let o = 0; o < cout; o++) {
    const values = [];
    for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) for (let k = 0; k < cin; k++) values.push(kernel.at(p, q, k, o));
    const [lo, hi] = range(values);
    const scale = (v) => Math.round(255 * (hi > lo ? (v - lo) / (hi - lo) : 0));
    const colour = (p, q) => {
      const v = Array.from({ length: cin }, (_, k) => kernel.at(p, q, k, o));
      if (cin === 3) return v.map(scale);
      const mean = scale(v.reduce((a, b) => a + b, 0) / cin);
      return [mean, mean, mean];
    };
    const canvas = pixelCanvas(kw, kh, colour, Math.round(36 / kw));
    canvas.title = `filter ${o}`;
    canvases.push(canvas);
  }
  box.replaceChildren(...canvases);
}

/** One layer's output: a feature map per channel, or for a vector a strip of cells. */
function layerMaps(index, output) {
  const [lo, hi] = range(output.values);
  const colour = (v) => viridis(hi > lo ? (v - lo) / (hi - lo) : 0);
  if (output.shape.length !== 3) {
    const n = output.values.length;
    const cols = Math.ceil(Math.sqrt(2 * n));
    const rows = Math.ceil(n / cols);
    const cell = (row, col) => (row * cols + col < n ? colour(output.values[row * cols + col]) : [21, 23, 28]);
    return [pixelCanvas(cols, rows, cell, Math.max(4, Math.round(240 / cols)))];
  }
  const [h, w, c] = output.shape;
  const { explainable } = state.model.layers[index];
  return Array.from({ length: c }, (_, channel) => {
    const canvas = pixelCanvas(w, h, (row, col) => colour(output.at(row, col, channel)),
      Math.max(1, Math.round(MAP_SIZE / w)));
    canvas.title = `channel ${channel}`;
    canvas.addEventListener("mousemove", (event) => {
      const [row, col] = pixelAt(canvas, event);
      canvas.title = `channel ${channel}, pixel (${row}, ${col}): ${output.at(row, col, channel).toFixed(4)}`;
    });
    canvas.dataset.layer = String(index);
    canvas.dataset.channel = String(channel);
    if (explainable) {
      canvas.classList.add("clickable");
      canvas.addEventListener("click", (event) => select(index, channel, ...pixelAt(canvas, event)));
    }
    return canvas;
  });
}

function showLayers(result, version) {
  showPredictions(result.predictions, version);
  state.input = decode(result.input);
  showInput();
  result.layers.forEach((encoded, index) => {
    const output = decode(encoded);
    const [lo, hi] = range(output.values);
    const section = $(`layer-${index}`);
    section.querySelector(".range").textContent = `values from ${lo.toFixed(3)} to ${hi.toFixed(3)}`;
    section.querySelector(".maps").replaceChildren(...layerMaps(index, output));
  });
  markSelected();
}

function buildLayerSections() {
  $("layers").replaceChildren(...state.model.layers.map((layer, index) => {
    const section = document.createElement("section");
    section.className = "layer";
    section.id = `layer-${index}`;
    section.innerHTML = `<h3></h3><p class="note range"></p><div class="maps"></div>`;
    section.querySelector("h3").innerHTML = `${index}. <span class="name"></span>
      <span class="shape">(${layer.class_name}, output ${layer.output_shape.join("x")})</span>`;
    section.querySelector(".name").textContent = layer.name;
    return section;
  }));
}

// ---------------------------------------------------------------------------------------------
// One pixel, worked out.

function explainPath({ layer, row, col, channel }) {
  return `/api/explain?layer=${layer}&row=${row}&col=${col}&channel=${channel}`;
}

async function select(layer, channel, row, col) {
  state.selected = { layer, row, col, channel };
  markSelected();
  try {
    showPixel(await api(explainPath(state.selected), await pad.png()));
  } catch (error) {
    showError(error);
  }
}

/** Outline the clicked map, and box the clicked pixel on it. */
function markSelected() {
  for (const canvas of document.querySelectorAll(".maps canvas.selected")) canvas.classList.remove("selected");
  document.querySelector(".maps .marker")?.remove();
  if (!state.selected) return;
  const { layer, channel, row, col } = state.selected;
  const canvas = document.querySelector(`#layer-${layer} canvas[data-channel="${channel}"]`);
  if (!canvas) return;
  canvas.classList.add("selected");
  // The marker lies over the map, in the maps' box (positioned), at the pixel's place.
  const scale = canvas.clientWidth / canvas.width;
  const marker = document.createElement("div");
  marker.className = "marker";
  Object.assign(marker.style, {
    left: `${canvas.offsetLeft + canvas.clientLeft + col * scale}px`,
    top: `${canvas.offsetTop + canvas.clientTop + row * scale}px`,
    width: `${scale}px`,
    height: `${scale}px`,
  });
  canvas.after(marker);
}

function closePixel() {
  $("pixel")?.remove();
  state.selected = null;
  state.field = null;
  markSelected();
  if (state.input) showInput();
}

const number = (v) => (v === null ? "pad" : v.toFixed(4));

/** A small table of numbers, None (null) showing as padding; cell(p, q) may name a class. */
function grid(rows, cell = () => "") {
  const table = document.createElement("table");
  table.className = "grid";
  rows.forEach((values, p) => {
    const tr = table.insertRow();
    values.forEach((v, q) => {
      const td = tr.insertCell();
      td.textContent = number(v);
      const name = v === null ? "padding" : cell(p, q);
      if (name) td.className = name;
    });
  });
  return table;
}

function text(tag, content, className) {
  const element = document.createElement(tag);
  element.textContent = content;
  if (className) element.className = className;
  return element;
}

/** The rows of the totals table: [label, value (a number, or a string shown as it is), id,
 * class of the row]. */
function totalRows(rows) {
  const table = $("pixel-total");
  table.replaceChildren();
  for (const [label, value, id, className] of rows) {
    const tr = table.insertRow();
    if (className) tr.className = className;
    tr.insertCell().textContent = label;
    const cell = tr.insertCell();
    cell.textContent = typeof value === "string" ? value : number(value);
    cell.id = id;
    cell.dataset.value = String(value);
  }
}

/** The answer of /api/explain, in the panel under the clicked layer's maps. */
function showPixel(e) {
  let panel = $("pixel");
  if (!panel) {
    panel = $("pixel-template").content.firstElementChild.cloneNode(true);
    panel.querySelector(".close").addEventListener("click", closePixel);
  }
  const { layer } = state.selected;
  $(`layer-${layer}`).querySelector(".maps").after(panel);

  const [top, left, bottom, right] = e.receptive_field;
  state.field = e.receptive_field;
  showInput();
  $("pixel-title").textContent = `${e.layer}, channel ${e.channel}, pixel (row ${e.row}, column ${e.col})`;
  $("pixel-field").textContent = `It depends on rows ${top}-${bottom - 1} and columns `
    + `${left}-${right - 1} of the input (the yellow box on "What the model sees"). `
    + (layer === 0 ? "Its input is that image." : `Its input is the output of layer ${layer - 1}.`)
    + (JSON.stringify(e.inputs).includes("null") ? " The window's cells marked pad lie in the padding." : "");
  const show = { Conv2D: showConvolution, MaxPooling2D: showMaxPooling, AveragePooling2D: showAveragePooling };
  show[e.class_name](e);
}

// Each of these fills the equation, the terms and the totals; y[i, j, c] is the clicked pixel.
const target = (e) => `y[${e.row}, ${e.col}, ${e.channel}]`;

function showConvolution(e) {
  const { channel, top, left, activation } = e;
  $("pixel-equation").textContent = `${target(e)} = ${activation}( b[${channel}] + `
    + `Σ over p, q, c of x[${top} + p, ${left} + q, c] · w[p, q, c, ${channel}] )`;
  const channels = e.kernel[0][0].length;
  const slice = (a, c) => a.map((r) => r.map((v) => v[c]));
  const terms = $("pixel-terms");
  terms.replaceChildren(text("p", `For each of the ${channels} input channels c: the window x, `
    + "times the kernel w element by element (padding counts as 0), gives the products, which add up:"));
  for (let c = 0; c < channels; c++) {
    const products = slice(e.products, c);
    const sum = products.flat().reduce((a, b) => a + b, 0);
    const term = document.createElement("div");
    term.className = "term";
    term.append(text("span", `channel c = ${c}`, "label"), grid(slice(e.inputs, c)),
      text("span", "⊙", "op"), grid(slice(e.kernel, c)), text("span", "=", "op"), grid(products),
      text("span", `Σ = ${sum.toFixed(4)}`, "op"));
    terms.append(term);
  }
  totalRows([
    ["Σ of all the products", e.sum, "pixel-sum"],
    [`+ bias b[${channel}]`, e.bias, "pixel-bias"],
    ["= z", e.z, "pixel-z"],
    [`${activation}(z) = y`, e.value, "pixel-value", "result"],
    ["the engine computed", e.model_value, "pixel-model-value"],
  ]);
}

function showMaxPooling(e) {
  const { channel, top, left } = e;
  const [wr, wc] = e.winner;
  $("pixel-equation").textContent = `${target(e)} = max over p, q of x[${top} + p, ${left} + q, ${channel}]`;
  $("pixel-terms").replaceChildren(text("p", "The window of the input (the winner is green):"),
    grid(e.inputs, (p, q) => (p === wr && q === wc ? "winner" : "")));
  totalRows([
    [`winner x[${top + wr}, ${left + wc}, ${channel}] = y`, e.value, "pixel-value", "result"],
    ["the engine computed", e.model_value, "pixel-model-value"],
  ]);
}

function showAveragePooling(e) {
  const { channel, top, left } = e;
  $("pixel-equation").textContent = `${target(e)} = (1 / n) Σ over p, q of `
    + `x[${top} + p, ${left} + q, ${channel}], n = the window's input pixels`;
  $("pixel-terms").replaceChildren(text("p", "The window of the input:"), grid(e.inputs));
  totalRows([
    ["Σ of the window", e.sum, "pixel-sum"],
    ["÷ n", String(e.count), "pixel-count"],
    ["= y", e.value, "pixel-value", "result"],
    ["the engine computed", e.model_value, "pixel-model-value"],
  ]);
}

// ---------------------------------------------------------------------------------------------
// Start.

$("pen-width").addEventListener("input", (event) => {
  pad.penWidth = Number(event.target.value);
  $("pen-width-value").textContent = event.target.value;
});
$("undo").addEventListener("click", () => pad.undo());
$("clear").addEventListener("click", () => pad.clear());

async function start() {
  try {
    state.model = await api("/api/model");
  } catch (error) {
    showError(error);
    return;
  }
  const [h, w, c] = state.model.input_shape;
  $("model-summary").textContent = `Model ${state.model.name}: ${state.model.layers.length} layers, `
    + `${h}x${w}x${c} input, ${state.model.class_names.length} classes.`;
  $("seen-note").textContent = `The drawing as the model takes it: ${h}x${w}, values in [0, 1], `
    + "prepared exactly as data.load_image prepares an image file.";
  state.runeFont = runesHaveAFont();
  buildLayerSections();
  showFilters(state.model.filters);
  refresh();
}

start();
