"""The ASGI app of ``scratchconv serve``: the page (``static/``) and its JSON API.

Every POST takes the raw bytes of an image file (PNG, JPEG, ...) as its body, prepared for the
model as ``data.load_image`` prepares a file (:func:`explain.prepare`):

- ``GET /api/model``: the model's name, input shape, class names, layers (name, class, output
  shape, whether their pixels can be worked out) and the first convolution's ``filters``;
- ``POST /api/predict``: ``{"predictions": [{"class", "probability"}, ...]}``, every class,
  most probable first;
- ``POST /api/layers``: the predictions, the ``input`` the model sees and every layer's output
  (``layers``), for the feature maps;
- ``POST /api/explain?layer=L&row=I&col=J&channel=C``: one output pixel of a Conv2D,
  MaxPooling2D or AveragePooling2D layer worked out from its inputs
  (:func:`explain.explain_pixel`).

Arrays travel as ``{"shape": [...], "data": base64 of little-endian float32}``: a page decodes
a few hundred thousand values at once (``new Float32Array``) where JSON lists of numbers
would be megabytes to parse. A request the API cannot answer gets a 4xx status and
``{"error": "<one sentence>"}``; a body over ``max_body`` bytes is refused (413) before it is
read whole, and an image of more than ``max_pixels`` pixels before it is decoded. A fault of
scratchconv's own is a 500 in the same form.
"""
import base64
import threading
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..layers import Conv2D
from . import explain

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 8 * 1024 * 1024    # bytes: a phone photo as JPEG fits, the page's PNGs are ~10 KB
MAX_PIXELS = 2048 * 2048      # the loader works in float64: 2048x2048 RGB is 100 MB


class ApiError(Exception):
    """A request the API cannot answer: its HTTP status and one sentence saying why."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def encode(array):
    """``{"shape", "data"}``: the array as base64 of little-endian float32 (row-major)."""
    a = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def create_app(model, max_body=MAX_BODY, max_pixels=MAX_PIXELS):
    """The Starlette app serving the page and the API for the built ``model``."""
    names = explain.class_names(model)
    explain.preprocessing(model)  # refuses, now, a model the image loader cannot feed
    # The layers keep what they computed last (for backward): one request at a time runs the
    # model, in a worker thread so that the event loop keeps serving files meanwhile.
    lock = threading.Lock()

    def run(image_bytes, work):
        try:
            x = explain.prepare(model, image_bytes, max_pixels=max_pixels)
        except ValueError as err:
            raise ApiError(400, str(err)) from None
        with lock:
            return work(x, explain.layer_outputs(model, x))

    async def image_body(request):
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            raise ApiError(413, f"the body has {int(declared):,} bytes, more than the "
                           f"{max_body:,} allowed")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                raise ApiError(413, f"the body has more than the {max_body:,} bytes allowed")
        if not body:
            raise ApiError(400, "the body is empty: send the bytes of an image file (PNG or JPEG)")
        return bytes(body)

    def int_param(request, name, default=None):
        text = request.query_params.get(name)
        if text is None:
            if default is None:
                raise ApiError(400, f"the query parameter {name} is missing")
            return default
        try:
            return int(text)
        except ValueError:
            raise ApiError(400, f"the query parameter {name} must be a whole number, "
                           f"got {text!r}") from None

    async def model_info(request):
        filters = next((layer for layer in model.layers if isinstance(layer, Conv2D)), None)
        return JSONResponse({
            "name": model.name, "input_shape": list(model.input_shape), "class_names": names,
            "layers": [{"name": layer.name, "class_name": type(layer).__name__,
                        "output_shape": list(layer.compute_output_shape(layer.input_shape)),
                        "explainable": explain.explainable(layer)} for layer in model.layers],
            "filters": None if filters is None else {"layer": filters.name,
                                                     **encode(filters.params["kernel"])},
        })

    async def predict(request):
        body = await image_body(request)
        return JSONResponse({"predictions": await run_in_threadpool(
            run, body, lambda x, outputs: explain.ranked(names, outputs[-1]))})

    async def layers(request):
        body = await image_body(request)

        def work(x, outputs):
            return {"predictions": explain.ranked(names, outputs[-1]), "input": encode(x),
                    "layers": [encode(a) for a in outputs]}

        return JSONResponse(await run_in_threadpool(run, body, work))

    async def explain_pixel(request):
        index, row, col = (int_param(request, name) for name in ("layer", "row", "col"))
        channel = int_param(request, "channel", default=0)
        body = await image_body(request)

        def work(x, outputs):
            try:
                return explain.explain_pixel(model, x, outputs, index, row, col, channel)
            except ValueError as err:
                raise ApiError(400, str(err)) from None

        return JSONResponse(await run_in_threadpool(run, body, work))

    async def api_error(request, err):
        return JSONResponse({"error": str(err)}, status_code=err.status)

    async def server_error(request, err):
        # A fault of scratchconv's, not of the request: said in the API's form too (uvicorn
        # logs the traceback), and the server goes on.
        return JSONResponse({"error": f"scratchconv failed on this request: "
                                      f"{type(err).__name__}: {err}"}, status_code=500)

    async def http_error(request, err):
        # Starlette's own refusals (no such path, wrong method) in the API's JSON form.
        return JSONResponse({"error": f"{request.method} {request.url.path}: {err.detail}"},
                            status_code=err.status_code, headers=err.headers)

    return Starlette(
        routes=[
            # Under one mount, so that /api/<unknown> is a 404 and a wrong method a 405 of the
            # API rather than a request for a static file.
            Mount("/api", routes=[
                Route("/model", model_info, methods=["GET"]),
                Route("/predict", predict, methods=["POST"]),
                Route("/layers", layers, methods=["POST"]),
                Route("/explain", explain_pixel, methods=["POST"]),
            ]),
            Mount("/", StaticFiles(directory=STATIC, html=True)),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error,
                            Exception: server_error},
    )
