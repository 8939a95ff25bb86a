"""The tutorial model in every framework the benchmark compares, behind one small interface.

The tutorial's model (scratchconv.tutorial_model, 519,096 parameters at 50x50x3)::

    Conv2D(64, 3x3, relu) -> MaxPool(2x2) -> Conv2D(32, 3x3, relu) -> MaxPool(2x2)
    -> Flatten -> Dense(128, relu) -> Dense(24, softmax)
    Adam(lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-7), categorical cross-entropy

Each framework gets a *runner* with the same four methods, so the harness in
:mod:`benchmarks.run` times them all the same way:

- ``prepare(x, y, batch_size)``: convert the data once into the framework's own format and
  cut it into batches (not timed: a user's input pipeline is not the engine's cost);
- ``train_steps(n)``: ``n`` bare training steps (forward, backward, optimizer), cycling
  through the batches;
- ``fit_epoch()``: one whole epoch through the framework's ``fit`` (scratchconv and keras;
  PyTorch has no ``fit``);
- ``predict_all()``: predictions for every sample, in batches of ``batch_size``;
- ``forward_all()`` (keras only): the same through a compiled ``tf.function`` of
  ``model(x, training=False)``, TensorFlow's fastest inference and the reference for ours.

``runner.apis`` names the timed calls a runner has: ``"step"``, ``"fit"``, ``"predict"``,
``"forward"``.
Each method returns only when the work is finished (torch and TF are synchronous on the CPU;
the last loss is read back as a number to make sure).

The frameworks are imported inside the runners, never at module level: each runner lives in
its own process, and the peak memory measured there must be that framework's alone.
"""
import time

import numpy as np

NUM_CLASSES = 24
CHANNELS = 3
SEED = 111


def make_data(n, image_size, seed=SEED):
    """The same float32 data for every framework: uniform images and random one-hot labels.

    Returns
    -------
    x : ndarray of shape (n, image_size, image_size, 3), float32 in [0, 1)
    y : ndarray of shape (n, 24), float32 one-hot
    """
    rng = np.random.default_rng(seed)
    x = rng.random((n, image_size, image_size, CHANNELS), dtype=np.float32)
    y = np.eye(NUM_CLASSES, dtype=np.float32)[rng.integers(0, NUM_CLASSES, n)]
    return x, y


def direct_flops(image_size):
    """Floating-point operations per sample of the tutorial model, counted for direct convolution.

    A convolution producing ``H_out x W_out x C_out`` from a ``KH x KW x C_in`` window costs
    ``2 * H_out * W_out * KH * KW * C_in * C_out`` (one multiply and one add per term), a Dense
    layer ``2 * d_in * d_out``. Training counts each layer three times (forward, weight
    gradient, input gradient) except the first layer's input gradient, which no framework
    computes; pooling, activations, the loss and Adam are left out (a few percent). An algorithm
    that needs fewer operations (Winograd) is still credited with these, so it can pass 100%
    of the machine's peak.

    Returns {"predict": forward FLOPs, "train": training-step FLOPs}, both per sample.
    """
    side1 = image_size - 2                       # conv1, 3x3 valid
    side2 = side1 // 2 - 2                       # pool 2x2, conv2 3x3 valid
    flat = (side2 // 2) ** 2 * 32                # pool 2x2, flatten
    layers = [2 * side1 ** 2 * 9 * CHANNELS * 64, 2 * side2 ** 2 * 9 * 64 * 32,
              2 * flat * 128, 2 * 128 * NUM_CLASSES]
    forward = sum(layers)
    return {"predict": forward, "train": 3 * forward - layers[0]}


def _batches(x, y, batch_size):
    """Consecutive (x, y) batches; the last one may be smaller, as in an epoch of ``fit``."""
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


class ScratchconvRunner:
    """scratchconv on one backend (``"numba"`` or ``"numpy"``)."""

    def __init__(self, image_size, threads, backend="numba"):
        import numba
        import scratchconv

        # The kernels first: importing them applies threads.configure(), whose threading layer
        # and OpenMP spin hold only if no numba thread has started, as set_num_threads does.
        scratchconv.backend.kernels("numba")
        numba.set_num_threads(threads)
        scratchconv.set_backend(backend)
        self.model = scratchconv.tutorial_model(input_shape=(image_size, image_size, CHANNELS))
        self.apis = ("step", "fit", "predict")

    def prepare(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.batches = _batches(x, y, batch_size)

    def train_steps(self, n):
        for i in range(n):
            xb, yb = self.batches[i % len(self.batches)]
            loss = self.model.train_on_batch(xb, yb)
        return float(loss)

    def fit_epoch(self):
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0)

    def predict_all(self):
        return self.model.predict(self.x, batch_size=self.batch_size, verbose=0)

    def profile_steps(self, n):
        """Where ``n`` real ``train_on_batch`` steps spend their time, in ms per step.

        Each of the model's steps (``model.steps``: one layer, or a convolution fused with the
        pooling after it) has its ``forward``, ``backward`` and ``backward_from_logits``, and
        the optimizer its ``apply_gradients``, wrapped in a timer for the duration (instance
        attributes, which the model's own calls find first); "other" is the rest of the step
        (loss, casts, checks).

        Returns {"total_ms", "optimizer_ms", "other_ms", "layers": [{"name", "forward_ms",
        "backward_ms"}, ...]} with one row per model step, in model order, named as the step
        ("conv2d + max_pooling2d" for a fused pair).
        """
        clock = {}

        def timed(owner, method, key):
            original = getattr(owner, method)

            def wrapper(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    clock[key] = clock.get(key, 0.0) + time.perf_counter() - start

            setattr(owner, method, wrapper)

        steps = self.model.steps
        wrapped = {"forward": "forward_ms", "backward": "backward_ms", "backward_from_logits": "backward_ms"}
        for i, step in enumerate(steps):
            for method, column in wrapped.items():
                if hasattr(step, method):
                    timed(step, method, (i, column))
        timed(self.model.optimizer, "apply_gradients", "optimizer_ms")
        try:
            start = time.perf_counter()
            self.train_steps(n)
            total = time.perf_counter() - start
        finally:
            for owner in (*steps, self.model.optimizer):
                for method in (*wrapped, "apply_gradients"):
                    owner.__dict__.pop(method, None)
        per_step = {key: 1000 * seconds / n for key, seconds in clock.items()}
        rows = [{"name": step.name, "forward_ms": per_step.get((i, "forward_ms"), 0.0),
                 "backward_ms": per_step.get((i, "backward_ms"), 0.0)}
                for i, step in enumerate(steps)]
        return {"total_ms": 1000 * total / n, "optimizer_ms": per_step.get("optimizer_ms", 0.0),
                "other_ms": 1000 * total / n - sum(per_step.values()), "layers": rows}


class KerasRunner:
    """tf.keras: ``model.fit`` / ``model.predict``, and a ``tf.function`` train step."""

    def __init__(self, image_size, threads):
        import tensorflow as tf

        # Both pools at the core count, which is also TF's default on this machine; set
        # explicitly so that the figure does not depend on it.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import keras

        from reference.tutorial import keras_tutorial_model

        self.tf = tf
        keras.utils.set_random_seed(SEED)
        self.model = keras_tutorial_model((image_size, image_size, CHANNELS), NUM_CLASSES)
        self.apis = ("step", "fit", "predict", "forward")
        # TensorFlow's fastest inference: the model's forward traced once into a graph.
        self.forward = tf.function(lambda x: self.model(x, training=False))

        # The bare step a user writes with GradientTape; its own model and optimizer so that
        # it does not share state with the one that ``fit`` trains.
        self.step_model = keras.models.clone_model(self.model)
        loss_fn = keras.losses.CategoricalCrossentropy()
        optimizer = keras.optimizers.Adam()
        variables = self.step_model.trainable_variables

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, self.step_model(x, training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        self.step = step

    def prepare(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.batches = [(self.tf.constant(xb), self.tf.constant(yb))
                        for xb, yb in _batches(x, y, batch_size)]

    def train_steps(self, n):
        for i in range(n):
            loss = self.step(*self.batches[i % len(self.batches)])
        return float(loss)

    def fit_epoch(self):
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0)

    def predict_all(self):
        return self.model.predict(self.x, batch_size=self.batch_size, verbose=0)

    def forward_all(self):
        return np.concatenate([self.forward(xb).numpy() for xb, _ in self.batches])


class TorchRunner:
    """PyTorch on the CPU, the same model in its native NCHW layout; bare loops (no ``fit``)."""

    def __init__(self, image_size, threads):
        import torch
        from torch import nn

        torch.set_num_threads(threads)
        self.torch = torch
        torch.manual_seed(SEED)
        side = ((image_size - 2) // 2 - 2) // 2
        self.model = nn.Sequential(
            nn.Conv2d(CHANNELS, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * side * side, 128), nn.ReLU(),
            nn.Linear(128, NUM_CLASSES),
        )
        # Softmax + categorical cross-entropy is CrossEntropyLoss on the logits; Keras's Adam
        # defaults (eps=1e-7, not torch's 1e-8).
        self.loss_fn = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)
        self.apis = ("step", "predict")

    def prepare(self, x, y, batch_size):
        torch = self.torch
        self.batches = [(torch.from_numpy(np.ascontiguousarray(xb.transpose(0, 3, 1, 2))),
                         torch.from_numpy(yb.argmax(1)))
                        for xb, yb in _batches(x, y, batch_size)]

    def train_steps(self, n):
        self.model.train()
        for i in range(n):
            xb, yb = self.batches[i % len(self.batches)]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
        return loss.item()

    def predict_all(self):
        self.model.eval()
        with self.torch.inference_mode():
            outputs = [self.torch.softmax(self.model(xb), dim=1) for xb, _ in self.batches]
        return self.torch.cat(outputs).numpy()


def count_params(runner):
    """The number of trainable parameters of a runner's model (a check that all build the same)."""
    if isinstance(runner, TorchRunner):
        return sum(p.numel() for p in runner.model.parameters())
    return int(runner.model.count_params())


# name -> runner factory(image_size, threads); the order is the benchmark's column order.
FRAMEWORKS = {
    "scratchconv": lambda image_size, threads: ScratchconvRunner(image_size, threads, "numba"),
    "scratchconv-numpy": lambda image_size, threads: ScratchconvRunner(image_size, threads, "numpy"),
    "keras": KerasRunner,
    "torch": TorchRunner,
}
