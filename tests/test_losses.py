"""Cross-entropy losses: Keras's values on probabilities, the stable logits path, and gradients."""
import numpy as np
import pytest

from scratchconv import losses
from scratchconv.gradcheck import check_function
from scratchconv.layers.activations import softmax

Y_TRUE = np.eye(3)
Y_PRED = np.array([[.9, .05, .05], [.05, .89, .06], [.05, .01, .94]])


def test_categorical_crossentropy_matches_the_keras_docstring_example():
    np.testing.assert_allclose(losses.categorical_crossentropy(Y_TRUE, Y_PRED), [0.10536, 0.11653, 0.06188],
                               atol=5e-6)


def test_sparse_categorical_crossentropy_matches_categorical_on_normalised_probabilities():
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([0, 1, 2], Y_PRED),
                               losses.categorical_crossentropy(Y_TRUE, Y_PRED), rtol=1e-12)


def test_sparse_labels_may_have_a_trailing_axis():
    np.testing.assert_array_equal(losses.sparse_categorical_crossentropy([[0], [1], [2]], Y_PRED),
                                  losses.sparse_categorical_crossentropy([0, 1, 2], Y_PRED))


def test_a_zero_probability_is_clipped_to_1e_minus_7():
    loss = losses.categorical_crossentropy([[1.0, 0.0]], [[0.0, 1.0]])
    np.testing.assert_allclose(loss, [-np.log(1e-7)], rtol=1e-12)


def test_categorical_crossentropy_renormalises_the_predictions():
    np.testing.assert_allclose(losses.categorical_crossentropy([[1.0, 0.0]], [[2.0, 2.0]]), [np.log(2)],
                               rtol=1e-12)


def test_the_loss_object_averages_over_the_batch():
    loss = losses.get("categorical_crossentropy")
    assert loss(Y_TRUE, Y_PRED) == pytest.approx(np.mean([0.1053605, 0.1165338, 0.0618754]), abs=1e-6)


def test_an_unknown_loss_is_named():
    with pytest.raises(ValueError, match="unknown loss 'mse'"):
        losses.get("mse")


@pytest.mark.parametrize("name", losses.LOSSES)
def test_gradient_on_probabilities_matches_central_differences(name):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 1.0, (4, 5))  # unnormalised on purpose: renormalisation is differentiated too
    labels = rng.integers(0, 5, 4)
    y = labels if name.startswith("sparse") else np.eye(5)[labels]
    loss = losses.get(name)
    assert check_function("dL/dp", lambda: float(loss(y, p)), p, loss.gradient(y, p)).passed


@pytest.mark.parametrize("name", losses.LOSSES)
def test_gradient_to_the_logits_matches_central_differences(name):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 5)) * 3
    labels = rng.integers(0, 5, 4)
    y = labels if name.startswith("sparse") else np.eye(5)[labels]
    loss = losses.get(name)
    _, dz = loss.from_logits(y, z, softmax(z))
    assert check_function("dL/dz", lambda: float(loss.loss_from_logits(y, z)), z, dz).passed


def test_loss_from_logits_equals_the_loss_of_the_softmax():
    z = np.array([[1.0, 2.0, -1.0], [0.5, 0.5, 0.0]])
    loss = losses.get("categorical_crossentropy")
    assert loss.loss_from_logits(np.eye(3)[:2], z) == pytest.approx(loss(np.eye(3)[:2], softmax(z)), rel=1e-12)


def test_loss_from_huge_logits_is_finite_and_unclipped():
    """Logits 1e4 apart: the probability of the true class underflows to 0, yet the loss is the
    exact 1e4 (log-softmax), not the clipped -log(1e-7) = 16.1."""
    z = np.array([[1e4, 0.0]], np.float32)
    loss, dz = losses.get("sparse_categorical_crossentropy").from_logits([1], z, softmax(z))
    assert loss == pytest.approx(1e4) and np.isfinite(dz).all()
    np.testing.assert_allclose(dz, [[1.0, -1.0]])


def test_from_logits_keeps_float32():
    z = np.zeros((2, 3), np.float32)
    loss, dz = losses.get("categorical_crossentropy").from_logits(np.eye(3, dtype=np.float32)[:2], z, softmax(z))
    assert dz.dtype == np.float32 and np.asarray(loss).dtype == np.float32
