"""Losses: Keras's values on probabilities, the stable logits paths, gradients, sample weights,
and each loss's check of its targets."""
import numpy as np
import pytest

from scratchconv import losses
from scratchconv.gradcheck import check_function
from scratchconv.layers.activations import sigmoid, softmax

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


def test_the_mse_function_is_the_mean_squared_error_loss():
    assert type(losses.get(losses.mse)) is losses.MeanSquaredError


def test_an_unknown_loss_is_named():
    with pytest.raises(ValueError, match="unknown loss 'hinge': choose one of categorical_crossentropy, .*mse"):
        losses.get("hinge")


def targets(name, rng, n=4, k=5):
    """Targets ``name`` takes: labels, one-hot rows, 0/1 rows, or real numbers."""
    labels = rng.integers(0, k, n)
    return {"sparse_categorical_crossentropy": labels, "categorical_crossentropy": np.eye(k)[labels],
            "binary_crossentropy": rng.integers(0, 2, (n, k)).astype(float),
            "mean_squared_error": rng.standard_normal((n, k))}[name]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", losses.LOSSES)
def test_gradient_on_probabilities_matches_central_differences(name, weighted):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, (4, 5))  # unnormalised on purpose: renormalisation is differentiated too
    y = targets(name, rng)
    w = rng.uniform(0, 2, 4) if weighted else None
    loss = losses.get(name)
    assert check_function("dL/dp", lambda: float(loss(y, p, w)), p, loss.gradient(y, p, w)).passed


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"])
def test_gradient_to_the_logits_matches_central_differences(name, weighted):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 5)) * 3
    y = targets(name, rng)
    w = rng.uniform(0, 2, 4) if weighted else None
    loss = losses.get(name)
    probs = softmax(z) if loss.logits_of == "softmax" else sigmoid(z)
    value, dz = loss.from_logits(y, z, probs, w)
    assert value == pytest.approx(loss(y, probs, w), rel=1e-12)
    assert check_function("dL/dz", lambda: float(loss.loss_from_logits(y, z, w)), z, dz).passed


def test_sample_weights_reduce_as_keras_sum_over_batch_size():
    """sum(w * loss) / n, not / sum(w)."""
    y, p, w = np.eye(3), Y_PRED, np.array([2.0, 0.0, 1.0])
    per_sample = losses.categorical_crossentropy(y, p)
    assert losses.get("categorical_crossentropy")(y, p, w) == pytest.approx((2 * per_sample[0] + per_sample[2]) / 3,
                                                                           rel=1e-15)


def test_binary_crossentropy_clips_at_1e_minus_7_and_averages_the_outputs():
    loss = losses.binary_crossentropy([[1.0, 0.0]], [[0.0, 0.0]])
    np.testing.assert_allclose(loss, [-(np.log(1e-7) + np.log(1 - 1e-7)) / 2], rtol=1e-14)


def test_binary_crossentropy_from_huge_logits_is_exact_not_clipped():
    loss = losses.get("binary_crossentropy").loss_from_logits(np.array([[0.0]]), np.array([[50.0]]))
    assert loss == pytest.approx(50.0, rel=1e-12)


def test_mse_is_an_alias_and_a_target_of_shape_n_fits_one_output():
    assert type(losses.get("mse")) is losses.MeanSquaredError
    assert losses.get("mse")(np.array([1.0, 2.0]), np.array([[1.5], [2.0]])) == pytest.approx(0.125)


@pytest.mark.parametrize("spec", [losses.BinaryCrossentropy(), losses.binary_crossentropy,
                                  {"class_name": "BinaryCrossentropy", "config": {}},
                                  {"class_name": "BinaryCrossentropy", "config": {"name": "binary_crossentropy",
                                                                                  "from_logits": False}}])
def test_get_accepts_loss_objects_and_keras_style_configs(spec):
    assert losses.get(spec).name == "binary_crossentropy"


def test_a_keras_style_config_with_a_setting_scratchconv_lacks_is_refused():
    with pytest.raises(ValueError, match="the BinaryCrossentropy config .*label_smoothing.* has settings "
                                         "scratchconv does not have"):
        losses.get({"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 0.1}})


@pytest.mark.parametrize("loss", [losses.SparseCategoricalCrossentropy(from_logits=True),
                                  losses.BinaryCrossentropy(from_logits=True), losses.CategoricalCrossentropy()])
def test_a_loss_round_trips_through_serialize_with_its_from_logits(loss):
    copy = losses.get(losses.serialize(loss))
    assert type(copy) is type(loss) and copy.logits_given == loss.logits_given


def test_from_logits_is_refused_where_there_are_no_logits_and_must_be_a_bool():
    with pytest.raises(ValueError, match="MeanSquaredError takes no from_logits"):
        losses.MeanSquaredError(from_logits=True)
    with pytest.raises(ValueError, match="BinaryCrossentropy: from_logits must be True or False, got 'yes'"):
        losses.BinaryCrossentropy(from_logits="yes")


@pytest.mark.parametrize("name", losses.LOSSES)
def test_values_agree_with_keras_in_float64(tf, name):
    import keras
    rng = np.random.default_rng(4)
    p = softmax(rng.standard_normal((6, 3)))
    p[0, 0] = 0.0  # a clipped entry
    y = targets(name, rng, n=6, k=3)
    theirs = getattr(keras.losses, name)(tf.constant(y), tf.constant(p)).numpy()
    np.testing.assert_allclose(losses.get(name).per_sample(y, p), theirs, rtol=1e-14)


def test_binary_crossentropy_from_logits_agrees_with_tensorflow(tf):
    rng = np.random.default_rng(5)
    z, y = rng.standard_normal((6, 3)) * 5, rng.integers(0, 2, (6, 3)).astype(float)
    theirs = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z)).numpy()
    assert losses.get("binary_crossentropy").loss_from_logits(y, z) == pytest.approx(theirs, rel=1e-15)


@pytest.mark.parametrize("name, y, message", [
    ("binary_crossentropy", np.array([[0.0, 2.0]]), r"binary_crossentropy needs targets in \[0, 1\] .* row 0 has "
                                                    r"values from 0 to 2"),
    ("binary_crossentropy", np.zeros((1, 3)), r"binary_crossentropy needs y of shape \(n, 2\) for a model with 2 "
                                              r"outputs, got y of shape \(1, 3\)"),
    ("mean_squared_error", np.array([[np.nan, 1.0]]), "y contains non-finite values"),
    ("mean_squared_error", np.zeros(1), r"mean_squared_error needs y of shape \(n, 2\) for a model with 2 outputs"),
])
def test_each_loss_checks_its_own_targets(name, y, message):
    with pytest.raises(ValueError, match="fit: " + message):
        losses.get(name).check_targets(y, 2, "float64", "fit")


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
