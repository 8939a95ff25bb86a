"""The `scratchconv serve` page in a real browser: Playwright driving Debian's chromium.

A rune drawn with mouse events is recognised; a clicked feature-map pixel shows the engine's own
numbers; the page logs no errors. The steps are in tests/serve_page.py, which also makes the
README's screenshot. Without playwright or chromium the tests are skipped, except in CI
(CI=true), where that is a failure.
"""
import io
import os

import numpy as np
import pytest
from PIL import Image

import scratchconv
from scratchconv import layers, load_model
from scratchconv.serve import explain

from serve_page import (RUNE_STROKES, chromium_path, click_map_pixel, draw, launch_chromium,
                        open_page, pad_png, running_server, screenshot, shown_predictions,
                        wait_for_prediction)


def missing(what):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what}, and CI must run the browser test of scratchconv serve")
    pytest.skip(what)


@pytest.fixture(scope="module")
def model():
    pytest.importorskip("starlette", reason="scratchconv serve needs the web extra: "
                        "pip install -e '.[web]'")
    from scratchconv.serve.server import DEFAULT_MODEL

    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: pip install -e '.[browser]'")
    if chromium_path() is None:
        missing("chromium is not installed: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def url(model):
    with running_server(model) as url:
        yield url


@pytest.fixture
def page(browser, url):
    """A fresh page; after the test, it must have logged no errors."""
    page = open_page(browser, url)
    yield page
    assert page.console_errors == []
    page.context.close()


def pad_pixels(page):
    """The pad's drawing as the page sends it, in gray levels: (280, 280) uint8."""
    return np.asarray(Image.open(io.BytesIO(pad_png(page))).convert("L"))


def engine_outputs(model, page):
    """Every layer's output, computed here in Python from the PNG the page sends."""
    return explain.layer_outputs(model, explain.prepare(model, pad_png(page)))


@pytest.mark.parametrize("rune", sorted(RUNE_STROKES))
def test_a_rune_drawn_with_the_mouse_is_recognised(page, rune):
    draw(page, RUNE_STROKES[rune])
    predictions = shown_predictions(page)
    assert predictions[0][0] == rune
    assert predictions[0][1] > 50
    assert len(predictions) == 5
    # Spelled out where the browser has no font for the runes.
    assert page.locator("#prediction li .name").first.inner_text() in (rune, rune.split()[1])


def test_the_predictions_shown_are_the_models(page, model):
    draw(page, RUNE_STROKES["ᛏ tiwaz"])
    probabilities = engine_outputs(model, page)[-1]
    names = explain.class_names(model)
    expected = [(names[i], round(100 * float(probabilities[i]), 1))
                for i in np.argsort(-probabilities, kind="stable")[:5]]
    assert shown_predictions(page) == expected


def test_a_convolution_pixel_shows_the_sum_the_engine_computes(page, model):
    draw(page, RUNE_STROKES["ᚱ raidho"])
    outputs = engine_outputs(model, page)
    # A pixel of the second convolution on the rune's stem, where it fires.
    layer, channel = 2, int(np.argmax(outputs[2].max(axis=(0, 1))))
    row, col = np.unravel_index(int(np.argmax(outputs[2][:, :, channel])), outputs[2].shape[:2])
    click_map_pixel(page, layer, channel, int(row), int(col))
    shown = {name: float(page.locator(f"#pixel-{name}").get_attribute("data-value"))
             for name in ("sum", "bias", "z", "value", "model-value")}
    activation = float(outputs[layer][row, col, channel])
    assert activation > 0
    assert shown["z"] == pytest.approx(shown["sum"] + shown["bias"], rel=1e-9)
    assert shown["value"] == pytest.approx(activation, rel=1e-5)
    assert shown["model-value"] == activation
    # The text shown, to its four decimals.
    assert page.locator("#pixel-value").inner_text() == f"{activation:.4f}"
    assert page.locator("#pixel-terms .term").count() == outputs[layer - 1].shape[-1]
    # The clicked pixel is boxed on its map.
    map_box = page.locator(f"#layer-{layer} canvas[data-channel='{channel}']").bounding_box()
    marker = page.locator(f"#layer-{layer} .marker").bounding_box()
    scale = (map_box["width"] - 2) / outputs[layer].shape[1]
    assert marker["x"] == pytest.approx(map_box["x"] + 1 + col * scale, abs=1)
    assert marker["y"] == pytest.approx(map_box["y"] + 1 + row * scale, abs=1)


def test_a_first_layer_pixel_shows_its_27_products(page, model):
    draw(page, RUNE_STROKES["ᛏ tiwaz"])
    click_map_pixel(page, 0, 5, 20, 24)
    activation = float(engine_outputs(model, page)[0][20, 24, 5])
    assert page.locator("#pixel-value").inner_text() == f"{activation:.4f}"
    assert page.locator("#pixel-terms .term").count() == 3
    assert page.locator("#pixel-terms table.grid td").count() == 3 * 3 * 9


def test_a_max_pooling_pixel_shows_which_input_won(page, model):
    draw(page, RUNE_STROKES["ᛏ tiwaz"])
    outputs = engine_outputs(model, page)
    click_map_pixel(page, 1, 0, 5, 12)
    window = outputs[0][10:12, 24:26, 0]
    winner = page.locator("#pixel-terms td.winner")
    assert winner.count() == 1
    assert winner.inner_text() == f"{window.max():.4f}"
    assert float(page.locator("#pixel-value").get_attribute("data-value")) == float(outputs[1][5, 12, 0])


def test_the_shown_pixel_follows_the_drawing(page, model):
    draw(page, RUNE_STROKES["ᛏ tiwaz"])
    click_map_pixel(page, 0, 1, 10, 24)
    before = page.locator("#pixel-model-value").get_attribute("data-value")
    draw(page, [[(0.2, 0.2), (0.8, 0.3)]])
    page.wait_for_function(f"document.querySelector('#pixel-model-value').dataset.value !== '{before}'")
    activation = float(engine_outputs(model, page)[0][10, 24, 1])
    assert float(page.locator("#pixel-model-value").get_attribute("data-value")) == activation


def test_undo_and_clear(page):
    draw(page, RUNE_STROKES["ᛏ tiwaz"])
    drawn = shown_predictions(page)
    draw(page, [[(0.1, 0.9), (0.9, 0.9)]])
    page.click("#undo")
    wait_for_prediction(page)
    assert shown_predictions(page) == drawn
    page.click("#clear")
    wait_for_prediction(page)
    assert pad_pixels(page).max() == 0


def test_pen_width_changes_the_stroke(page):
    draw(page, [[(0.2, 0.5), (0.8, 0.5)]])
    thin = np.count_nonzero(pad_pixels(page))
    page.click("#clear")
    page.locator("#pen-width").fill("40")
    draw(page, [[(0.2, 0.5), (0.8, 0.5)]])
    assert np.count_nonzero(pad_pixels(page)) > 2 * thin


def test_a_finger_draws_too(browser, url):
    page = open_page(browser, url, has_touch=True)
    box = page.locator("#pad").bounding_box()
    cdp = page.context.new_cdp_session(page)
    points = [(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * y)
              for y in np.linspace(0.15, 0.85, 10)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart",
                                          "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_for_prediction(page)
    # A vertical line down the middle, from 15% to 85% of the height.
    assert pad_pixels(page)[60:220, 140].min() == 255
    assert page.console_errors == []
    page.context.close()


def test_the_screenshot_of_the_readme(page, model, tmp_path):
    # The code path of `python tests/serve_page.py docs/images/serve.png`.
    path = screenshot(page, tmp_path / "serve.png", model)
    with Image.open(path) as image:
        assert image.width == 1280 and image.height > 1500
    assert page.locator("#pixel").is_visible()


def test_an_error_of_the_api_is_shown_on_the_page(browser, url):
    page = open_page(browser, url)
    page.route("**/api/layers", lambda route: route.fulfill(
        status=400, content_type="application/json", body='{"error": "the image data is bad"}'))
    # Drawn by hand: draw() would wait for predictions that never come.
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=5)
    page.mouse.up()
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text() == "The server answered: the image data is bad"
    # The browser logs the failed request itself; nothing else went wrong.
    assert all("status of 400" in message for message in page.console_errors)
    page.unroute("**/api/layers")
    draw(page, [[(0.3, 0.5), (0.7, 0.5)]])
    assert error.is_hidden()
    page.context.close()


def test_a_model_of_other_classes_and_an_average_pooling(browser):
    # Grayscale 21x21 inputs, named classes, "same" padding, an average pooling at the end.
    scratchconv.set_seed(3)
    model = scratchconv.Sequential([
        layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", input_shape=(21, 21, 1)),
        layers.AveragePooling2D(3, strides=2, padding="same"),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.class_names = ["circle", "square", "star"]
    with running_server(model) as url:
        page = open_page(browser, url)
        draw(page, [[(0.3, 0.3), (0.7, 0.7)]])
        assert sorted(name for name, _ in shown_predictions(page)) == ["circle", "square", "star"]
        outputs = engine_outputs(model, page)
        click_map_pixel(page, 1, 2, 5, 5)
        assert page.locator("#pixel-count").inner_text() == "4"  # a corner window over the padding
        assert page.locator("#pixel-terms td.padding").count() == 5
        assert float(page.locator("#pixel-value").get_attribute("data-value")) == pytest.approx(
            float(outputs[1][5, 5, 2]), rel=1e-5, abs=1e-7)
        assert page.console_errors == []
        page.context.close()
