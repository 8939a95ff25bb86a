"""The gradient check: every layer and the tutorial model pass at 1e-7 on both backends, a broken
backward is caught, kinks are skipped, and the report is what the CLI prints."""
import sys

import numpy as np
import pytest

import scratchconv
from scratchconv import Sequential, layers
from scratchconv.layers import LAYER_CLASSES
from scratchconv.layers.activations import ACTIVATIONS

gc = sys.modules["scratchconv.gradcheck"]  # the module; scratchconv.gradcheck is the function

@pytest.fixture(autouse=True)
def one_blas_thread():
    """The checks multiply small matrices thousands of times; on a busy machine BLAS threads
    waiting for each other make that up to 50x slower, so use one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # only slower without it
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def failures(results):
    return [(r.name, r.n_checked, r.max_rel_error) for r in results if not r.passed]


CASES = {label: (layer, shape) for label, layer, shape in gc.layer_cases()}


# ----- everything passes, on both backends -------------------------------------------------------

@pytest.mark.parametrize("label", CASES)
def test_layer_gradients_match_central_differences(on_backend, label):
    layer, shape = CASES[label]
    rng = np.random.default_rng(0)
    layer = gc.float64_layer(layer, shape[1:])
    gc.random_weights(layer, rng)
    results = gc.check_layer(layer, gc.spaced_values(shape, rng), label=label, rng=rng)
    assert [r.name.split(": ")[1] for r in results] == list(layer.params) + ["input"]
    assert failures(results) == []


def test_small_tutorial_model_gradients_match_at_every_entry(on_backend):
    rng = np.random.default_rng(0)
    model = gc.small_tutorial_model()
    for layer in model.layers:
        gc.random_weights(layer, rng)
    x = rng.uniform(0, 1, (2,) + model.input_shape)
    results = gc.check_model(model, x, gc.random_labels(model, 2, rng), rng=rng)
    assert failures(results) == []
    assert all(r.n_checked + r.n_skipped == r.size for r in results)


def test_full_tutorial_model_gradients_match_on_a_subset(on_backend):
    rng = np.random.default_rng(0)
    model = gc.full_tutorial_model()
    x = rng.uniform(0, 1, (2,) + model.input_shape)
    results = gc.check_model(model, x, gc.random_labels(model, 2, rng), max_entries=3, rng=rng)
    assert len(results) == 9  # 4 kernels, 4 biases, the input
    assert failures(results) == []
    assert all(r.n_checked == 3 for r in results)


def test_full_tutorial_model_is_the_tutorial_model():
    model = gc.full_tutorial_model()
    assert model.count_params() == 519_096
    assert [layer.name for layer in model.layers] == list(gc.TUTORIAL_LAYER_NAMES)
    assert model.dtype == "float64"


def test_layer_cases_cover_every_layer_type_and_the_asked_configurations():
    conv = [label for label in CASES if label.startswith("Conv2D") and label.endswith(("linear", "relu"))]
    assert len(conv) == 24  # 1x1/3x3/5x5 x valid/same x strides 1/2 x linear/relu
    labels = " | ".join(CASES)
    for wanted in ("MaxPooling2D 3x3", "MaxPooling2D 2x2 same odd input", "MaxPooling2D 3x3 s2 overlapping",
                   "Dense linear", "Dense relu", "Dense softmax", "Flatten", "ReLU", "Softmax",
                   "Conv2D 3x3 same tanh"):
        assert wanted in labels
    for activation in ACTIVATIONS:
        assert f"Activation {activation}" in labels and f"Dense {activation}" in labels
    assert {type(layer).__name__ for layer, _ in CASES.values()} == set(LAYER_CLASSES)


def test_default_suite_checks_layers_then_the_small_and_the_full_tutorial_model(numpy_backend, monkeypatch):
    monkeypatch.setattr(gc, "FULL_MODEL_ENTRIES", 2)
    results = list(gc.default_suite())
    by_model = {prefix: [r for r in results if r.name.startswith(prefix + ": ")]
                for prefix in ("small tutorial model", "tutorial model")}
    assert [len(rows) for rows in by_model.values()] == [9, 9]
    assert by_model["tutorial model"][0].name == "tutorial model: conv2d.kernel"
    assert sum(r.size for r in by_model["tutorial model"][:-1]) == 519_096
    assert all(r.n_checked == 2 for r in by_model["tutorial model"])
    assert failures(results) == []


def test_uncompiled_model_is_checked_through_a_projection(numpy_backend):
    model = Sequential([layers.Dense(5, activation="relu", input_shape=(4,)), layers.Dense(3)])
    report = scratchconv.gradcheck(model, verbose=False)
    assert report.passed and len(report) == 5


def test_a_frozen_layer_s_weights_are_not_checked_and_the_rest_pass(numpy_backend):
    model = Sequential([layers.Dense(3, activation="tanh", input_shape=(4,)), layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    model.layers[0].trainable = False
    report = scratchconv.gradcheck(model, verbose=False)
    assert report.passed
    assert [r.name.split(": ")[1] for r in report] == [f"{model.layers[1].name}.kernel",
                                                       f"{model.layers[1].name}.bias", "input"]


def test_model_with_sparse_labels_is_checked(numpy_backend):
    model = Sequential([layers.Dense(5, activation="relu", input_shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert scratchconv.gradcheck(model, verbose=False).passed


# ----- negative controls -----------------------------------------------------------------------

def test_wrong_kernel_gradient_is_caught(numpy_backend, monkeypatch):
    original = layers.Dense.backward_from_logits

    def off_by_a_thousandth(self, dz, need_dx=True):
        dx = original(self, dz, need_dx)
        self.grads["kernel"] = self.grads["kernel"] * 1.001
        return dx

    monkeypatch.setattr(layers.Dense, "backward_from_logits", off_by_a_thousandth)
    report = scratchconv.gradcheck(layers.Dense(3, input_shape=(4,)), verbose=False)
    assert [r.passed for r in report] == [False, True, True]
    assert report[0].max_rel_error > 1e-4


def test_wrong_convolution_input_gradient_is_caught(numpy_backend, monkeypatch):
    kernels = scratchconv.backend.kernels("numpy")
    original = kernels.conv2d_backward_input

    def drops_the_last_row(dy, w, x_shape, strides, pads):
        dx = original(dy, w, x_shape, strides, pads)
        dx[:, -1] = 0
        return dx

    monkeypatch.setattr(kernels, "conv2d_backward_input", drops_the_last_row)
    report = scratchconv.gradcheck(layers.Conv2D(2, 3, padding="same", input_shape=(5, 5, 2)), verbose=False)
    assert [r.passed for r in report] == [True, True, False]
    assert report[2].max_rel_error > 0.5


def test_huge_step_fails_the_check(numpy_backend):
    report = scratchconv.gradcheck(layers.Softmax(input_shape=(6,)), eps=0.3, verbose=False)
    assert not report.passed


# ----- kinks -----------------------------------------------------------------------------------

def test_relu_step_across_zero_is_skipped(numpy_backend):
    x = gc.spaced_values((2, 5), np.random.default_rng(0))
    x[0, 0] = gc.EPS / 2
    report = scratchconv.gradcheck(layers.ReLU(), x, verbose=False)
    assert (report[0].n_checked, report[0].n_skipped) == (9, 1)
    assert report.passed


def test_max_pool_step_that_swaps_the_winner_is_skipped(numpy_backend):
    x = np.array([0.1, 0.5, 0.5 - gc.EPS / 2, -0.3]).reshape(1, 2, 2, 1)
    report = scratchconv.gradcheck(layers.MaxPooling2D(2), x, verbose=False)
    assert (report[0].n_checked, report[0].n_skipped) == (2, 2)
    assert report.passed


class Abs(layers.Layer):
    """A test-only layer with a kink the check cannot know of unless the layer declares it:
    ``y = |x|``, ``dx = dy * sign(x)``. (No ``_default_name``: not registered.)"""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        self._x = self._check_input(x)
        return np.abs(self._x)

    def backward(self, dy, need_dx=True):
        return dy * np.sign(self._x) if need_dx else None

    def kink_pattern(self, x, y):
        return x > 0


def test_a_kink_the_layer_declares_is_skipped(numpy_backend):
    x = gc.spaced_values((2, 5), np.random.default_rng(0))
    x[0, 0] = gc.EPS / 2
    report = scratchconv.gradcheck(Abs(), x, verbose=False)
    assert (report[0].n_checked, report[0].n_skipped) == (9, 1)
    assert report.passed


@pytest.mark.parametrize("make", [lambda: layers.ReLU(), lambda: layers.Dense(3, activation="relu"),
                                  lambda: layers.Dense(3, activation="leaky_relu"),
                                  lambda: layers.Activation("relu"), lambda: layers.Conv2D(2, 1, activation="relu")],
                         ids=["ReLU", "Dense relu", "Dense leaky_relu", "Activation relu", "Conv2D relu"])
def test_relu_like_layers_declare_their_on_off_pattern_as_their_kinks(numpy_backend, make):
    layer = make()
    x = np.random.default_rng(2).standard_normal((2, 3, 3, 2) if isinstance(layer, layers.Conv2D) else (2, 3))
    y = layer.forward(x)
    np.testing.assert_array_equal(layer.kink_pattern(x, y), y > 0)


def test_max_pooling_declares_its_winners_as_its_kinks(numpy_backend):
    pool = layers.MaxPooling2D(2, input_shape=(4, 4, 1))
    x = np.arange(16.0)[::-1].reshape(1, 4, 4, 1)
    pool.build((4, 4, 1))
    np.testing.assert_array_equal(pool.kink_pattern(x, pool.forward(x))[0, :, :, 0], [[0, 2], [8, 10]])


@pytest.mark.parametrize("make", [lambda: layers.Flatten(), lambda: layers.Softmax(), lambda: layers.Dense(3),
                                  lambda: layers.Dense(3, activation="tanh"), lambda: layers.Activation("sigmoid")],
                         ids=["Flatten", "Softmax", "Dense linear", "Dense tanh", "Activation sigmoid"])
def test_smooth_layers_declare_no_kinks(numpy_backend, make):
    layer = make()
    x = np.random.default_rng(2).standard_normal((2, 3))
    assert layer.kink_pattern(x, layer.forward(x)) is None


def test_spaced_values_are_distinct_and_away_from_zero():
    x = gc.spaced_values((3, 4, 5), np.random.default_rng(1))
    gaps = np.diff(np.sort(x.ravel()))
    assert x.shape == (3, 4, 5)
    assert gaps.min() > 1000 * gc.EPS and np.abs(x).min() > 100 * gc.EPS


# ----- copies, determinism, side effects --------------------------------------------------------

def test_float32_layer_is_checked_on_a_float64_copy_and_left_alone(numpy_backend):
    layer = layers.Dense(3, activation="relu", input_shape=(4,))
    layer.build((4,))
    before = layer.get_weights()
    assert scratchconv.gradcheck(layer, verbose=False).passed
    assert layer.dtype == "float32"
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_same_seed_gives_the_same_report(numpy_backend):
    conv = layers.Conv2D(2, 3, activation="relu", input_shape=(5, 4, 2))
    first = scratchconv.gradcheck(conv, seed=4, verbose=False)
    second = scratchconv.gradcheck(conv, seed=4, verbose=False)
    assert first.errors() == second.errors()


def test_gradcheck_does_not_move_the_global_generator(numpy_backend):
    scratchconv.set_seed(5)
    expected = scratchconv.random.generator().random(3)
    scratchconv.set_seed(5)
    scratchconv.gradcheck(layers.Dense(2, input_shape=(3,)), verbose=False)
    np.testing.assert_array_equal(scratchconv.random.generator().random(3), expected)


def test_max_entries_checks_a_random_subset(numpy_backend):
    report = scratchconv.gradcheck(layers.Dense(6, input_shape=(5,)), max_entries=4, verbose=False)
    assert [(r.n_checked, r.size) for r in report] == [(4, 30), (4, 6), (4, 10)]


# ----- the report and the table ------------------------------------------------------------------

def test_report_lists_each_tensor_with_shape_count_and_error(numpy_backend):
    report = scratchconv.gradcheck(layers.Conv2D(2, 3, input_shape=(4, 4, 1), name="c"), verbose=False)
    assert [(r.name, r.shape, r.n_checked) for r in report] == [
        ("c: kernel", (3, 3, 1, 2), 18), ("c: bias", (2,), 2), ("c: input", (2, 4, 4, 1), 32)]
    assert report.passed and all(0 <= e <= gc.THRESHOLD for e in report.errors().values())


def test_verbose_prints_the_table_row_by_row(numpy_backend, capsys):
    report = scratchconv.gradcheck(layers.Dense(2, input_shape=(3,), name="d"), verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["tensor", "shape", "entries", "checked", "max", "rel", "error", "result"]
    assert lines[2].split()[:5] == ["d:", "kernel", "3x2", "6", "of"] and lines[2].endswith("pass")
    assert lines[-1].startswith("3 of 3 tensors passed (max relative error <= 1e-07")
    assert str(report).splitlines() == lines


def test_summary_says_when_only_a_subset_was_checked():
    whole = gc.GradcheckResult("d: bias", (4,), 4, 0, 1e-9)
    subset = gc.GradcheckResult("d: kernel", (40, 4), 20, 0, 1e-9)
    assert "random entries" not in gc.GradcheckReport([whole]).summary()
    assert gc.GradcheckReport([whole, subset]).summary().endswith(
        "; 'k of n' rows checked k random entries of a tensor of n")


def test_failed_tensor_is_marked_in_the_table():
    result = gc.GradcheckResult("x: kernel", (2, 3), 6, 0, 3e-3)
    assert not result.passed and result.row().endswith("FAIL")
    assert gc.GradcheckReport([result]).summary().endswith("; 1 FAILED")


def test_tensor_with_no_entry_checked_fails():
    assert not gc.GradcheckResult("x: input", (1, 1), 0, 1, float("nan")).passed


# ----- bad arguments ---------------------------------------------------------------------------

def test_something_that_is_not_a_model_or_layer_is_refused():
    with pytest.raises(TypeError, match="gradcheck takes a Sequential model, a layer or nothing, got 'model.npz'"):
        scratchconv.gradcheck("model.npz")


def test_unbuilt_layer_without_x_is_refused():
    with pytest.raises(ValueError, match="gradcheck cannot check 'd7': it is not built and no x was given"):
        scratchconv.gradcheck(layers.Dense(2, name="d7"))
