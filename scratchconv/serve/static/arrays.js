// Arrays from the API, and drawing them as pictures.

/**
 * The API's {shape, data} (base64 of little-endian float32, row-major) as
 * {shape, values: Float32Array, at(...index)}.
 */
export function decode({ shape, data }) {
  const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
  const values = new Float32Array(bytes.buffer);
  const strides = shape.map((_, axis) => shape.slice(axis + 1).reduce((a, b) => a * b, 1));
  const at = (...index) => values[index.reduce((flat, i, axis) => flat + i * strides[axis], 0)];
  return { shape, values, at };
}

/** The smallest and largest of an array of numbers. */
export function range(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// Matplotlib's viridis at nine points, the colour map of `scratchconv visualize`.
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** The viridis colour of t in [0, 1], as [r, g, b]. */
export function viridis(t) {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

/**
 * A canvas of width x height pixels whose pixel (row, col) has colour(row, col) = [r, g, b],
 * shown `scale` times larger without smoothing.
 */
export function pixelCanvas(width, height, colour, scale) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.className = "pixels";
  canvas.style.width = `${width * scale}px`;
  canvas.style.height = `${height * scale}px`;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const [r, g, b] = colour(row, col);
      image.data.set([r, g, b, 255], 4 * (row * width + col));
    }
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

/** Where on `canvas` (shown at any size) the mouse event fell: [row, col] in its pixels. */
export function pixelAt(canvas, event) {
  const clamp = (v, n) => Math.min(Math.max(Math.floor(v), 0), n - 1);
  return [
    clamp((event.offsetY / canvas.clientHeight) * canvas.height, canvas.height),
    clamp((event.offsetX / canvas.clientWidth) * canvas.width, canvas.width),
  ];
}
