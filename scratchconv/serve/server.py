"""Run the app on a local socket with uvicorn until Ctrl-C (``scratchconv serve``)."""
import socket
from pathlib import Path

import uvicorn

from .app import create_app

DEFAULT_MODEL = Path(__file__).resolve().parent / "default_model.npz"


def bind(host="127.0.0.1", port=8000):
    """A listening TCP socket on ``host``:``port`` (port 0: a free one, read it from
    ``sock.getsockname()``). OSError naming the address when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


def url_of(sock):
    """The page's address for a socket from :func:`bind`."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(model):
    """A uvicorn server of the app for ``model``, quiet but for errors; ``server.run(sockets=
    [sock])`` serves until ``server.should_exit`` is set (or Ctrl-C, in the main thread)."""
    config = uvicorn.Config(create_app(model), log_level="warning", lifespan="off")
    return uvicorn.Server(config)


def announce_line(line):
    # Flushed: a program reading the address through a pipe gets it at once.
    print(line, flush=True)


def serve(model, host="127.0.0.1", port=8000, announce=announce_line):
    """Serve the page for ``model`` on ``host``:``port`` until Ctrl-C; ``announce`` gets the
    line with the address once the socket listens."""
    sock = bind(host, port)
    server = make_server(model)
    announce(f"scratchconv serve: the page is at {url_of(sock)} (Ctrl-C stops)")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down on Ctrl-C, then raises the signal again for the caller.
        pass
    finally:
        sock.close()
    announce("scratchconv serve: stopped")
