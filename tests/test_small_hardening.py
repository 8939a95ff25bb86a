"""The small ones of issue 11: gradcheck MODEL streams its rows and samples by default, a
Dense-only model in the image commands is a sentence, fit's validation_split is type-checked,
augmenting nothing says so, an ignored Ctrl-C stays ignored while an epoch is saved."""
import importlib
import os
import signal

import numpy as np
import pytest

import scratchconv
from scratchconv import cli, data, layers

gc = importlib.import_module("scratchconv.gradcheck")


pytestmark = pytest.mark.usefixtures("numpy_backend")


def conv_model():
    scratchconv.set_seed(0)
    model = scratchconv.Sequential([layers.Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)),
                                    layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    return model


def test_gradcheck_of_a_model_yields_each_row_as_its_tensor_is_checked(monkeypatch):
    """model_results is a generator: the first row exists before the other tensors are
    checked (so the command prints it at once)."""
    checked = []
    real = gc.check_tensor
    monkeypatch.setattr(gc, "check_tensor", lambda name, *a, **k: checked.append(name) or real(name, *a, **k))
    results = gc.check_given(conv_model(), seed=0, max_entries=2)
    first = next(iter(results))
    assert checked == [first.name]
    assert len(list(results)) + 1 == 5  # kernel, bias, kernel, bias, input


def test_gradcheck_command_samples_a_model_by_default(tmp_path, capsys):
    conv_model().save(tmp_path / "m.npz")
    assert cli.main(["gradcheck", str(tmp_path / "m.npz")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if ".kernel" in line]
    # conv2d's kernel has 18 entries, the dense kernel 96: at most 20 of each by default.
    assert len(rows) == 2 and "18 of 18" in rows[0] and "20 of 96" in rows[1]


def test_gradcheck_command_checks_all_entries_when_asked(tmp_path, capsys):
    conv_model().save(tmp_path / "m.npz")
    assert cli.main(["gradcheck", str(tmp_path / "m.npz"), "--max-entries", "all"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "dense" in line and ".kernel" in line]
    assert rows and "96 of 96" in rows[0]


def test_gradcheck_max_entries_takes_a_number_or_all():
    with pytest.raises(SystemExit):
        cli.main(["gradcheck", "m.npz", "--max-entries", "some"])


@pytest.mark.parametrize("command", ["predict", "visualize", "evaluate"])
def test_a_dense_only_model_is_a_sentence_in_the_image_commands(tmp_path, capsys, command):
    model = scratchconv.Sequential([layers.Dense(24, activation="softmax", input_shape=(4,))])
    model.save(tmp_path / "dense.npz")
    data.make_dataset(tmp_path / "runes", per_class=1, seed=0)
    image = str(tmp_path / "runes" / "ᚠ_01.png")
    args = {"predict": [image], "visualize": [image, "--out", str(tmp_path / "v.png")],
            "evaluate": [str(tmp_path / "runes"), "--out", str(tmp_path / "cm.png")]}[command]
    assert cli.main([command, str(tmp_path / "dense.npz"), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchconv: error: the model expects 4 inputs;") and "\n" not in err


@pytest.mark.parametrize("value", ["0.2", None, [0.2]])
def test_fit_validation_split_of_the_wrong_type_is_a_clear_type_error(value):
    model = conv_model()
    x = np.random.default_rng(0).random((6, 6, 6, 1))
    with pytest.raises(TypeError, match=r"fit: validation_split must be a number in \[0, 1\), got "):
        model.fit(x, np.eye(3)[[0, 1, 2, 0, 1, 2]], validation_split=value, verbose=0)


@pytest.mark.parametrize("augment", [lambda x, y: data.augment_rotations(x, y),
                                     lambda x, y: data.augment(x, y, rotation=10)],
                         ids=["augment_rotations", "augment"])
def test_augmenting_no_images_says_so(augment):
    with pytest.raises(ValueError, match=r"x holds no images \(shape \(0, h, w, c\)\), so there "
                                         r"is nothing to augment"):
        augment(np.zeros((0, 8, 8, 1)), np.zeros(0))


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_an_ignored_ctrl_c_stays_ignored_while_an_epoch_is_saved():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with cli.interrupt_deferred():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_a_ctrl_c_during_the_save_still_arrives_after_it():
    with pytest.raises(KeyboardInterrupt):
        with cli.interrupt_deferred():
            os.kill(os.getpid(), signal.SIGINT)
