"""``scratchconv serve``: a local web page on which you draw a rune and watch the model think.

- :mod:`.explain`: what the page shows, computed with the engine (predictions, every layer's
  output, one pixel of a convolution or a max pooling worked out);
- :mod:`.app`: the Starlette app, its JSON API and the page in ``static/`` (plain HTML, CSS and
  JavaScript, nothing loaded from elsewhere);
- :mod:`.server`: uvicorn on a local socket until Ctrl-C;
- ``default_model.npz``: the small model shown when none is given, remade by
  ``python -m scratchconv.serve.make_default_model``.

Starlette and uvicorn are the optional extra ``web`` (``pip install 'scratchconv[web]'``); the
rest of scratchconv never imports this package.
"""
