// The drawing pad: light strokes on a black canvas, like the training images.
//
// Pointer events cover the mouse, touch and pens alike. The drawing is kept as a list of
// strokes (each a pen width and its points), so that undo can take the last one away and
// draw the rest again.

export class DrawingPad {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {() => void} onChange called after every change of the drawing
   */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.onChange = onChange;
    this.strokes = [];
    this.penWidth = 14;
    this.drawing = false;
    // Counts changes; the page marks what it shows with the version it was computed for.
    this.version = 0;
    canvas.dataset.version = "0";

    canvas.addEventListener("pointerdown", (event) => this.start(event));
    canvas.addEventListener("pointermove", (event) => this.extend(event));
    for (const type of ["pointerup", "pointercancel"]) {
      canvas.addEventListener(type, () => { this.drawing = false; });
    }
    this.redraw();
  }

  /** The pointer's position in canvas pixels (the canvas may be shown at another size). */
  point(event) {
    return [
      (event.offsetX / this.canvas.clientWidth) * this.canvas.width,
      (event.offsetY / this.canvas.clientHeight) * this.canvas.height,
    ];
  }

  start(event) {
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.drawing = true;
    this.strokes.push({ width: this.penWidth, points: [this.point(event)] });
    this.changed();
  }

  extend(event) {
    if (!this.drawing) return;
    this.strokes[this.strokes.length - 1].points.push(this.point(event));
    this.changed();
  }

  undo() {
    this.strokes.pop();
    this.changed();
  }

  clear() {
    this.strokes = [];
    this.changed();
  }

  changed() {
    this.version += 1;
    this.canvas.dataset.version = String(this.version);
    this.redraw();
    this.onChange();
  }

  redraw() {
    const c = this.context;
    c.fillStyle = "#000";
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    c.strokeStyle = c.fillStyle = "#fff";
    c.lineCap = c.lineJoin = "round";
    for (const { width, points } of this.strokes) {
      c.lineWidth = width;
      c.beginPath();
      c.moveTo(...points[0]);
      // A single click leaves a dot: a zero-length line with round caps draws nothing everywhere.
      if (points.length === 1) {
        c.arc(points[0][0], points[0][1], width / 2, 0, 2 * Math.PI);
        c.fill();
        continue;
      }
      for (const p of points.slice(1)) c.lineTo(...p);
      c.stroke();
    }
  }

  /** The drawing as PNG bytes, what the server prepares like an image file. */
  png() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
  }
}
