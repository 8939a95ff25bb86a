"""SGD, Adam, AdamW and RMSprop: Keras 3's update rules, defaults, construction from names, configs and errors."""
import os

import numpy as np
import pytest

from scratchconv import optimizers


def adam_by_hand(w, grads, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Keras 3's Adam on TensorFlow, spelled out in float64; like tf.keras, the betas in the
    powers are rounded to float32 first (its ops.cast goes through a float32 constant)."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        alpha = lr * np.sqrt(1 - float(np.float32(b2)) ** t) / (1 - float(np.float32(b1)) ** t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        w = w - m * alpha / (np.sqrt(v) + eps)
    return w


def run(optimizer, w, grads):
    w = w.copy()
    for g in grads:
        optimizer.apply_gradients([(g, w)])
    return w


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(5)]


def test_adam_follows_the_keras_rule(problem):
    w, grads = problem
    np.testing.assert_allclose(run(optimizers.Adam(), w, grads), adam_by_hand(w, grads), rtol=1e-13)


def test_adam_with_other_hyperparameters_follows_the_keras_rule(problem):
    w, grads = problem
    adam = optimizers.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3)
    np.testing.assert_allclose(run(adam, w, grads), adam_by_hand(w, grads, 0.01, 0.8, 0.99, 1e-3), rtol=1e-13)


def test_adam_defaults_are_keras():
    assert optimizers.Adam().get_config() == {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                              "epsilon": 1e-7, "weight_decay": None}


def test_rmsprop_and_adamw_defaults_are_keras():
    assert optimizers.RMSprop().get_config() == {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                                                 "epsilon": 1e-7, "centered": False, "weight_decay": None}
    assert optimizers.AdamW().get_config() == {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9,
                                               "beta_2": 0.999, "epsilon": 1e-7}


def rmsprop_by_hand(w, grads, learning_rate=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    """Keras 3's RMSprop spelled out in float64: epsilon inside the square root."""
    v, a, m = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        a = rho * a + (1 - rho) * g
        step = learning_rate * g / np.sqrt((v - a * a if centered else v) + eps)
        m = momentum * m + step
        w = w - (m if momentum else step)
    return w


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.5}, {"centered": True},
                                    {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.9, "centered": True}])
def test_rmsprop_follows_the_keras_rule(problem, kwargs):
    w, grads = problem
    np.testing.assert_allclose(run(optimizers.RMSprop(**kwargs), w, grads), rmsprop_by_hand(w, grads, **kwargs),
                               rtol=1e-13)


@pytest.mark.parametrize("make", [lambda: optimizers.SGD(0.1, weight_decay=0.25),
                                  lambda: optimizers.RMSprop(weight_decay=0.25)])
def test_weight_decay_shrinks_the_weights_by_wd_times_lr_before_the_update(problem, make):
    w, grads = problem
    decayed = w - w * float(np.float32(0.25)) * make().learning_rate  # Keras casts wd through float32
    plain = make()
    plain.weight_decay = None
    np.testing.assert_allclose(run(make(), w, grads[:1]), run(plain, decayed, grads[:1]), rtol=1e-14)


def test_adamw_is_adam_with_weight_decay(problem):
    w, grads = problem
    np.testing.assert_array_equal(run(optimizers.AdamW(weight_decay=0.1), w, grads),
                                  run(optimizers.Adam(weight_decay=0.1), w, grads))
    assert not np.array_equal(run(optimizers.AdamW(), w, grads), run(optimizers.Adam(), w, grads))


def test_sgd_default_is_plain_gradient_descent_at_0_01(problem):
    w, grads = problem
    np.testing.assert_allclose(run(optimizers.SGD(), w, grads[:1]), w - 0.01 * grads[0], rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_follows_the_keras_rule(problem, nesterov):
    w, grads = problem
    expected, m = w.copy(), np.zeros_like(w)
    momentum = float(np.float32(0.9))  # tf.keras casts the momentum through float32
    for g in grads:
        m = momentum * m - 0.1 * g
        expected = expected + (momentum * m - 0.1 * g if nesterov else m)
    got = run(optimizers.SGD(0.1, momentum=0.9, nesterov=nesterov), w, grads)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize("make", [optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop])
def test_updates_stay_in_the_parameter_dtype(make):
    w = np.ones(3, np.float32)
    make().apply_gradients([(np.ones(3, np.float32), w)])
    assert w.dtype == np.float32 and (w < 1).all()


def test_state_stays_with_the_parameter_after_its_values_are_replaced_in_place(problem):
    """set_weights copies into the parameter arrays; Adam's moments carry on from there."""
    w, grads = problem
    adam, param = optimizers.Adam(), w.copy()
    adam.apply_gradients([(grads[0], param)])
    param[...] = w
    adam.apply_gradients([(grads[1], param)])
    assert adam.iterations == 2 and len(adam._state) == 1


@pytest.mark.parametrize("spec, cls", [("adam", optimizers.Adam), ("SGD", optimizers.SGD),
                                       ("rmsprop", optimizers.RMSprop), ("AdamW", optimizers.AdamW),
                                       ({"class_name": "Adam", "config": {"learning_rate": 0.5}}, optimizers.Adam)])
def test_get_accepts_names_and_configs(spec, cls):
    assert type(optimizers.get(spec)) is cls


def test_get_returns_an_optimizer_object_unchanged():
    sgd = optimizers.SGD(0.2)
    assert optimizers.get(sgd) is sgd


@pytest.mark.parametrize("optimizer", [
    optimizers.Adam(learning_rate=0.02, beta_1=0.5), optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    optimizers.AdamW(weight_decay=0.01), optimizers.SGD(0.1, weight_decay=0.001),
    optimizers.SGD(optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))])
def test_serialize_round_trips_through_deserialize_and_get(optimizer):
    spec = optimizers.serialize(optimizer)
    for copy in (optimizers.deserialize(spec), optimizers.get(spec)):
        assert type(copy) is type(optimizer) and copy.get_config() == optimizer.get_config()


def test_an_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer must be one of .*\"rmsprop\".*got 'adagrad'"):
        optimizers.get("adagrad")


@pytest.mark.parametrize("make, message", [
    (lambda: optimizers.SGD(learning_rate=-1), "SGD: learning_rate must be a non-negative number or a schedule .*, got -1"),
    (lambda: optimizers.SGD(momentum=1.5), r"SGD: momentum must be in \[0, 1\), got 1.5"),
    (lambda: optimizers.Adam(beta_2=1.0), r"Adam: beta_2 must be in \[0, 1\), got 1.0"),
    (lambda: optimizers.Adam(learning_rate="fast"), "Adam: learning_rate must be a non-negative number"),
    (lambda: optimizers.RMSprop(rho=1), r"RMSprop: rho must be in \[0, 1\), got 1"),
    (lambda: optimizers.RMSprop(centered="yes"), "RMSprop: centered must be True or False, got 'yes'"),
    (lambda: optimizers.SGD(weight_decay=-0.1), "SGD: weight_decay must be a non-negative number, got -0.1"),
    (lambda: optimizers.AdamW(weight_decay=None), "AdamW: weight_decay must be a non-negative number"),
    (lambda: optimizers.deserialize({"class_name": "SGD", "config": {"lr": 0.1}}),
     "the SGD config .* does not fit it: .*'lr'"),
])
def test_bad_hyperparameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


KERAS_OPTIMIZERS = [("Adam", {}), ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
                    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.01}), ("Adam", {"weight_decay": 0.1}),
                    ("AdamW", {}), ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.05, "beta_1": 0.8}),
                    ("RMSprop", {}), ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "centered": True}),
                    ("RMSprop", {"rho": 0.8, "momentum": 0.5, "weight_decay": 0.01})]


def keras_steps(tf, name, kwargs, w0, grads):
    """The weights after tf.keras's optimizer applies ``grads`` to ``w0``, in w0's dtype
    (Keras's floatx set to it, so its learning rate variable has that dtype too)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    floatx = keras.config.floatx()
    keras.config.set_floatx(w0.dtype.name)
    try:
        var = keras.Variable(w0)
        optimizer = getattr(keras.optimizers, name)(**kwargs)
        for g in grads:
            optimizer.apply_gradients([(tf.constant(g), var)])
        return var.numpy()
    finally:
        keras.config.set_floatx(floatx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", KERAS_OPTIMIZERS)
def test_updates_match_keras_bit_for_bit(tf, name, kwargs, dtype):
    """Same arithmetic in the same order as tf.keras: identical weights after 20 steps."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(1000).astype(dtype)
    grads = [rng.standard_normal(1000).astype(dtype) for _ in range(20)]
    ours = run(getattr(optimizers, name)(**kwargs), w0, grads)
    np.testing.assert_array_equal(ours, keras_steps(tf, name, kwargs, w0, grads))


@pytest.mark.parametrize("make", [optimizers.Adam, lambda: optimizers.SGD(momentum=0.9),
                                  lambda: optimizers.RMSprop(momentum=0.9, centered=True)])
def test_state_read_and_restored_continues_the_same_steps(make):
    rng = np.random.default_rng(3)
    params = [rng.standard_normal((4, 3)).astype("float32"), rng.standard_normal(3).astype("float32")]
    grads = [[rng.standard_normal(p.shape).astype("float32") for p in params] for _ in range(4)]
    first = make()
    for g in grads[:2]:
        first.apply_gradients(zip(g, params))
    iterations, slots = first.get_state(params)
    assert iterations == 2 and all(set(s) == set(first.slot_names) for s in slots)
    slots[0][first.slot_names[0]][...] = 99.0  # a copy: the optimizer's own state is untouched
    iterations, slots = first.get_state(params)
    copies = [p.copy() for p in params]
    second = make()
    second.set_state(copies, iterations, slots)
    for g in grads[2:]:
        first.apply_gradients(zip(g, params))
        second.apply_gradients(zip(g, copies))
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [optimizers.Adam, lambda: optimizers.SGD(momentum=0.9),
                                  lambda: optimizers.RMSprop(momentum=0.9, centered=True)])
def test_state_decaying_under_zero_gradients_becomes_zero_not_subnormal(make):
    # A dead unit's state decays geometrically; left alone it would stay subnormal for good
    # (m - 0.1 m rounds back to m there), which makes every later update many times slower.
    param = np.ones(3, dtype="float32")
    optimizer = make()
    optimizer.apply_gradients([(np.full(3, 1e-30, dtype="float32"), param)])
    zero = np.zeros(3, dtype="float32")
    for _ in range(400):  # 1e-31 * 0.9^400 is far below float32's smallest normal, 1.2e-38
        optimizer.apply_gradients([(zero, param)])
    _, (slots,) = optimizer.get_state([param])
    for name, state in slots.items():
        np.testing.assert_array_equal(state, 0, err_msg=name)
    np.testing.assert_array_equal(param, 1)


def test_plain_sgd_keeps_no_state():
    params = [np.ones(3, dtype="float32")]
    sgd = optimizers.SGD()
    sgd.apply_gradients([(np.ones(3, dtype="float32"), params[0])])
    assert sgd.slot_names == () and sgd.get_state(params) == (1, [None])
