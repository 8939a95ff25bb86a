"""Driving the ``scratchconv serve`` page in a real browser (Playwright with Debian's chromium).

tests/test_serve_browser.py uses these functions; run as a script, the same steps write the
README's screenshot of the page::

    python tests/serve_page.py docs/images/serve.png
"""
import contextlib
import os
import shutil
import sys
import threading
from pathlib import Path

# Debian's chromium, not Playwright's own download (which these machines cannot reach).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Runes as pen strokes, in fractions of the pad's width and height, drawn the way the shipped
# images are: about three quarters of the pad high, half of it wide.
RUNE_STROKES = {
    "ᛏ tiwaz": [[(0.5, 0.15), (0.5, 0.88)], [(0.26, 0.42), (0.5, 0.15), (0.74, 0.42)]],
    "ᚱ raidho": [[(0.36, 0.15), (0.36, 0.88)],
                 [(0.36, 0.15), (0.58, 0.22), (0.62, 0.32), (0.56, 0.42), (0.36, 0.5)],
                 [(0.4, 0.5), (0.64, 0.88)]],
}


def chromium_path():
    """Debian's chromium, or None."""
    return shutil.which("chromium")


@contextlib.contextmanager
def running_server(model):
    """Serve the page for ``model`` on a free loopback port in a thread; yields its URL."""
    from scratchconv.serve import server

    sock = server.bind("127.0.0.1", 0)
    uvicorn_server = server.make_server(model)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield server.url_of(sock)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def launch_chromium(playwright):
    """Debian's chromium, headless, through Playwright."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def open_page(browser, url, width=1280, height=900, **context_options):
    """A new page of ``browser`` on ``url``, loaded and drawn; ``page.console_errors`` collects
    the console's errors and the page's uncaught exceptions."""
    page = browser.new_context(viewport={"width": width, "height": height},
                               **context_options).new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda err: page.console_errors.append(str(err)))
    page.goto(url)
    wait_for_prediction(page)
    return page


def draw(page, strokes, steps=12):
    """Draw ``strokes`` (lists of (x, y) in fractions of the pad) with mouse events, then wait
    until the predictions shown are those of the finished drawing."""
    box = page.locator("#pad").bounding_box()
    at = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])  # noqa: E731
    for stroke in strokes:
        page.mouse.move(*at(*stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*at(*point), steps=steps)
        page.mouse.up()
    wait_for_prediction(page)


def wait_for_prediction(page):
    """Wait until ``#prediction`` shows the predictions for the pad's current drawing."""
    page.wait_for_function("document.querySelector('#prediction').dataset.version"
                           " === document.querySelector('#pad').dataset.version")


def shown_predictions(page):
    """The (class, percent) pairs listed in ``#prediction``, first the most probable. (The
    page shows "ᚱ raidho" as "raidho" in a browser without a font for the runes.)"""
    items = page.locator("#prediction li")
    return [(item.get_attribute("data-class"),
             float(item.locator(".probability").inner_text().rstrip("%")))
            for item in items.all()]


def click_map_pixel(page, layer, channel, row, col):
    """Click pixel (row, col) of channel ``channel``'s map of layer ``layer``, and wait for the
    worked-out pixel to be shown."""
    canvas = page.locator(f"#layer-{layer} canvas[data-channel='{channel}']")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()  # in the viewport, where the mouse clicks
    h, w = canvas.evaluate("c => [c.height, c.width]")
    # Aim at the middle of the pixel, inside the canvas's 1-pixel border.
    inner_w, inner_h = box["width"] - 2, box["height"] - 2
    page.mouse.click(box["x"] + 1 + (col + 0.5) * inner_w / w, box["y"] + 1 + (row + 0.5) * inner_h / h)
    page.wait_for_function(f"document.querySelector('#pixel-title')?.textContent.includes("
                           f"'pixel (row {row}, column {col})')")


def pad_png(page):
    """The bytes of the PNG the page sends for its current drawing."""
    import base64

    url = page.locator("#pad").evaluate("c => c.toDataURL('image/png')")
    return base64.b64decode(url.split(",", 1)[1])


def screenshot(page, path, model, rune="ᚱ raidho"):
    """Draw ``rune`` on a fresh ``page`` of ``model``, click the pixel of the second convolution
    that fires most, and save a screenshot of the whole page to ``path``."""
    import numpy as np

    from scratchconv.serve import explain

    draw(page, RUNE_STROKES[rune])
    outputs = explain.layer_outputs(model, explain.prepare(model, pad_png(page)))
    second_conv = [i for i, layer in enumerate(model.layers) if type(layer).__name__ == "Conv2D"][1]
    row, col, channel = np.unravel_index(int(np.argmax(outputs[second_conv])),
                                         outputs[second_conv].shape)
    click_map_pixel(page, second_conv, int(channel), int(row), int(col))
    page.screenshot(path=str(path), full_page=True)
    return Path(path)


def main(out):
    """Serve the shipped default model and write the screenshot to ``out``."""
    from playwright.sync_api import sync_playwright

    from scratchconv import load_model
    from scratchconv.serve.server import DEFAULT_MODEL

    model = load_model(DEFAULT_MODEL)
    with running_server(model) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            print(f"wrote {screenshot(open_page(browser, url), out, model)}")
        finally:
            browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/serve_page.py OUT.png")
    sys.path.insert(0, os.fspath(Path(__file__).resolve().parents[1]))
    main(sys.argv[1])
