import os

import pytest


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
