"""Learning-rate schedules: Keras 3's formulas and arguments, their use by the optimizers,
serialization, errors, and agreement with keras's own schedules in float64."""
import math

import numpy as np
import pytest

from scratchconv import optimizers
from scratchconv.optimizers import schedules

SCHEDULES = {
    "exponential": schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5),
    "exponential_staircase": schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5, staircase=True),
    "piecewise": schedules.PiecewiseConstantDecay([5, 12], [0.1, 0.05, 0.01]),
    "cosine": schedules.CosineDecay(0.1, decay_steps=20, alpha=0.1),
    "cosine_warmup": schedules.CosineDecay(0.0, decay_steps=20, warmup_target=0.2, warmup_steps=5),
}


def test_exponential_decay_is_the_formula():
    s = SCHEDULES["exponential"]
    assert s(0) == 0.1 and s(7) == 0.05
    assert s(3) == 0.1 * 0.5 ** (3 / 7)
    assert SCHEDULES["exponential_staircase"](13) == 0.05 and SCHEDULES["exponential_staircase"](14) == 0.025


def test_piecewise_constant_includes_each_boundary_in_the_range_before_it():
    s = SCHEDULES["piecewise"]
    assert [s(t) for t in (0, 5, 6, 12, 13, 100)] == [0.1, 0.1, 0.05, 0.05, 0.01, 0.01]


def test_cosine_decay_falls_from_the_initial_rate_to_alpha_times_it_and_stays():
    s = SCHEDULES["cosine"]
    assert s(0) == pytest.approx(0.1, rel=1e-15)
    assert s(10) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1), rel=1e-15)
    assert s(20) == s(50) == pytest.approx(0.01, rel=1e-15)


def test_cosine_warmup_rises_linearly_then_decays_from_the_target():
    s = SCHEDULES["cosine_warmup"]
    assert [s(t) for t in (0, 1, 4)] == pytest.approx([0.0, 0.04, 0.16], rel=1e-15)
    assert s(5) == pytest.approx(0.2, rel=1e-15)
    assert s(15) == pytest.approx(0.2 * 0.5 * (1 + math.cos(math.pi / 2)), abs=1e-17)
    assert s(25) == s(99) == pytest.approx(0.0, abs=1e-17)


def test_an_optimizer_evaluates_its_schedule_at_the_steps_done_so_far():
    sgd = optimizers.SGD(learning_rate=SCHEDULES["piecewise"])
    w = np.zeros(1)
    for step in range(8):
        assert sgd.learning_rate == SCHEDULES["piecewise"](step)
        before = w.copy()
        sgd.apply_gradients([(np.ones(1), w)])
        assert before - w == pytest.approx(SCHEDULES["piecewise"](step), rel=1e-12)


def test_an_optimizer_made_with_a_schedule_refuses_a_number_as_keras_does():
    sgd = optimizers.SGD(learning_rate=SCHEDULES["cosine"])
    with pytest.raises(TypeError, match="SGD was made with the learning-rate schedule CosineDecay"):
        sgd.learning_rate = 0.1
    sgd.learning_rate = SCHEDULES["piecewise"]
    assert sgd.learning_rate == 0.1


@pytest.mark.parametrize("name", SCHEDULES)
def test_a_schedule_round_trips_through_its_config(name):
    s = SCHEDULES[name]
    copy = schedules.deserialize(schedules.serialize(s))
    assert type(copy) is type(s) and copy.get_config() == s.get_config()
    assert [copy(t) for t in range(30)] == [s(t) for t in range(30)]


@pytest.mark.parametrize("make, message", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "ExponentialDecay: decay_steps must be a positive number, got 0"),
    (lambda: schedules.ExponentialDecay("0.1", 10, 0.5),
     "ExponentialDecay: initial_learning_rate must be a non-negative number, got '0.1'"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]),
     r"PiecewiseConstantDecay: values must be a list one longer than boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3]),
     r"PiecewiseConstantDecay: boundaries must increase, got \[5, 2\]"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2),
     "CosineDecay: warmup_target=0.2 needs warmup_steps > 0, got warmup_steps=0"),
    (lambda: schedules.CosineDecay(0.1, 10, alpha=-1), "CosineDecay: alpha must be a non-negative number, got -1"),
    (lambda: schedules.deserialize({"class_name": "PolynomialDecay", "config": {}}),
     "a learning-rate schedule must be .* one of ExponentialDecay, PiecewiseConstantDecay, CosineDecay"),
    (lambda: schedules.deserialize({"class_name": "CosineDecay", "config": {"steps": 3}}),
     "the CosineDecay config .* does not fit it"),
])
def test_bad_schedule_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("name", SCHEDULES)
def test_values_agree_with_keras_in_float64(tf, name):
    import keras

    from reference.twin import keras_schedule
    s = SCHEDULES[name]
    theirs = keras_schedule(schedules.serialize(s), "float64")
    steps = range(40)
    expected = np.array([float(theirs(keras.Variable(t, dtype="int64"))) for t in steps])
    np.testing.assert_allclose([s(t) for t in steps], expected, rtol=1e-15, atol=1e-18)
