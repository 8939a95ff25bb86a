import os

import pytest

from scratchconv import backend


@pytest.fixture(scope="session")
def tf():
    """tensorflow, for the agreement checks against tf.keras.

    In CI (CI=true) a missing tensorflow is a failure: the reference checks must never be
    skipped silently there. Elsewhere the test is skipped with the command that installs it.
    """
    try:
        import tensorflow
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("tensorflow is not installed, and CI must run the reference checks: "
                        "install it with  pip install -e '.[reference]'")
        pytest.skip("tensorflow is not installed: pip install -e '.[reference]' to run the "
                    "reference checks against tf.keras")
    return tensorflow


@pytest.fixture(scope="session")
def keras(tf):
    """keras (3, with tensorflow's backend), under the same rule as ``tf``."""
    import keras
    return keras


@pytest.fixture(scope="session")
def reference(tf):
    """The repository's ``reference`` package (scratchconv <-> tf.keras), under the same rule as ``tf``."""
    import reference
    return reference


@pytest.fixture(params=backend.BACKENDS)
def on_backend(request):
    """Run the test once on each backend ("numba", "numpy"), restoring the one in use after."""
    previous = backend.get_backend()
    backend.set_backend(request.param)
    yield request.param
    backend.set_backend(previous)


@pytest.fixture
def numpy_backend():
    """Run the test on the readable NumPy kernels (no numba build), restoring the backend after;
    a test module that only needs the one puts ``pytestmark = pytest.mark.usefixtures("numpy_backend")``."""
    previous = backend.get_backend()
    backend.set_backend("numpy")
    yield "numpy"
    backend.set_backend(previous)
