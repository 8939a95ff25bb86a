"""The benchmark harness: its entry point runs end to end in a tiny mode, and its arithmetic is right.

Nothing here asserts on a timing: speed is the benchmark's business, and these machines are
shared. The tests check the structure of what the harness writes and the ratios and targets it
computes from given numbers.
"""
import json
from pathlib import Path

import pytest

from benchmarks import models, run, startup

ROOT = Path(__file__).resolve().parents[1]


def _measurement(framework, api, seconds, task="train", image=50, batch=32, samples=64,
                 steps=2, peak=100.0):
    return dict(task=task, image=image, batch=batch, framework=framework, api=api,
                samples=samples, steps=steps, seconds=seconds, first_call_s=0.1, build_s=0.2,
                params=519096, import_rss_mb=50.0, peak_rss_mb=peak)


def test_make_data_is_the_same_float32_data_for_a_seed():
    x1, y1 = models.make_data(5, 20)
    x2, y2 = models.make_data(5, 20)
    assert x1.dtype == y1.dtype == "float32"
    assert x1.shape == (5, 20, 20, 3) and y1.shape == (5, 24)
    assert (x1 == x2).all() and (y1 == y2).all()
    assert (y1.sum(1) == 1).all()


def test_summarise_gives_median_throughput_and_ms_per_step():
    (row,) = run.summarise([_measurement("keras", "step", [1.0, 2.0, 4.0])])
    assert row["samples_per_s"] == {"median": 32.0, "min": 16.0, "max": 64.0}
    assert row["ms_per_step"] == {"median": 1000.0, "min": 500.0, "max": 2000.0}


def test_ratio_to_keras_is_the_ratio_of_medians_with_paired_range():
    rows = run.summarise([
        _measurement("keras", "step", [1.0, 2.0, 3.0]),
        _measurement("scratchconv", "step", [0.5, 2.0, 1.0]),
    ])
    ours = next(r for r in rows if r["framework"] == "scratchconv")
    assert ours["ratio_to_keras"]["median"] == pytest.approx(2.0)
    assert ours["ratio_to_keras"]["min"] == pytest.approx(1.0)
    assert ours["ratio_to_keras"]["max"] == pytest.approx(3.0)


def test_ratio_compares_only_the_same_api_and_configuration():
    rows = run.summarise([
        _measurement("keras", "fit", [1.0]),
        _measurement("scratchconv", "step", [1.0]),
        _measurement("scratchconv", "fit", [1.0], batch=8),
    ])
    assert all(r["ratio_to_keras"] is None for r in rows)


def test_targets_report_met_missed_and_not_measured():
    rows = run.summarise([
        _measurement("keras", "step", [1.0], peak=800.0),
        _measurement("scratchconv", "step", [0.5], peak=200.0),
        _measurement("keras", "fit", [0.1]),
    ])
    targets = {t["target"]: t for t in
               run.evaluate_targets(rows, {"scratchconv": {"first_s": 9.0, "second_s": 3.0}})}
    # Against TF's compiled step, not keras's fit (which was faster here).
    assert targets["training step, batch 32, 50x50"]["met"] is True
    assert targets["training step, batch 32, 50x50"]["measured"] == pytest.approx(2.0)
    assert targets["training step, batch 128, 50x50"]["met"] is None
    assert targets["peak memory of a training process, batch 32, 50x50"]["met"] is True
    assert targets["second process (numba cache warm): import to first finished step"]["met"] \
        is False
    assert targets["inference, batch 32, 50x50"]["met"] is None
    assert not any("NumPy" in name for name in targets)


def test_inference_is_compared_with_the_compiled_forward_and_keras_predict_is_secondary():
    rows = run.summarise([
        _measurement("keras", "forward", [1.0], task="predict"),
        _measurement("keras", "predict", [2.0], task="predict"),
        _measurement("scratchconv", "predict", [0.5], task="predict"),
    ])
    ours = next(r for r in rows if r["framework"] == "scratchconv")
    assert ours["ratio_to_tf"]["median"] == pytest.approx(2.0)
    assert ours["ratio_to_keras"]["median"] == pytest.approx(4.0)
    predict = next(r for r in rows if r["api"] == "predict" and r["framework"] == "keras")
    assert predict["ratio_to_tf"]["median"] == pytest.approx(0.5)
    targets = {t["target"]: t for t in run.evaluate_targets(rows, {})}
    assert targets["inference, batch 32, 50x50"]["measured"] == pytest.approx(2.0)
    assert targets["inference, batch 32, 50x50"]["met"] is True


def test_direct_flops_count_every_layer_of_the_tutorial_model():
    import scratchconv
    from scratchconv.layers import Conv2D, Dense

    model = scratchconv.tutorial_model(input_shape=(50, 50, 3))
    forward = first = None
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            h, w, c_out = layer.compute_output_shape(layer.input_shape)
            kh, kw, c_in, _ = layer.params["kernel"].shape
            flops = 2 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, Dense):
            flops = 2 * layer.params["kernel"].size
        else:
            continue
        first = flops if first is None else first
        forward = flops + (forward or 0)
    assert models.direct_flops(50) == {"predict": forward, "train": 3 * forward - first}


def test_gflops_and_the_fraction_of_the_measured_peak():
    (row,) = run.summarise([_measurement("keras", "step", [1.0, 2.0, 4.0])],
                           peak={"gflops": 100.0})
    expected = 32.0 * models.direct_flops(50)["train"] / 1e9
    assert row["gflops"] == pytest.approx(expected)
    assert row["peak_fraction"] == pytest.approx(expected / 100.0)
    (row,) = run.summarise([_measurement("keras", "step", [1.0])])
    assert row["peak_fraction"] is None
    assert run.summarise_peak([]) is None
    assert run.summarise_peak([100.0, 300.0, 200.0])["gflops"] == 200.0


def test_profile_times_every_layer_of_a_real_step_and_unwraps_afterwards():
    runner = models.ScratchconvRunner(20, threads=1, backend="numpy")
    runner.prepare(*models.make_data(8, 20), batch_size=4)
    profile = runner.profile_steps(2)
    names = [layer["name"] for layer in profile["layers"]]
    # One row per model step: each convolution runs fused with the pooling after it.
    layers = [layer.name for layer in runner.model.layers]
    assert names == [f"{layers[0]} + {layers[1]}", f"{layers[2]} + {layers[3]}", *layers[4:]]
    conv = profile["layers"][0]
    assert conv["forward_ms"] > 0 and conv["backward_ms"] > 0
    # Each call counted once, so the parts add up to no more than the whole step.
    assert profile["other_ms"] >= 0
    assert all(not {"forward", "backward", "backward_from_logits"} & set(vars(step))
               for step in runner.model.steps)
    assert "apply_gradients" not in vars(runner.model.optimizer)


def test_format_profile_has_a_line_per_layer_and_the_totals():
    layers = [{"name": "conv2d", "forward_ms": 1.0, "backward_ms": 2.0}]
    row = dict(_measurement("scratchconv", "step", [1.0]),
               profile={"layers": layers, "optimizer_ms": 0.5, "other_ms": 0.25,
                        "total_ms": 3.75})
    text = run.format_profile(run.summarise([row]))
    assert "| conv2d | 1.00 / 2.00 |" in text
    assert "| whole step | 3.75 |" in text


@pytest.mark.parametrize("batch, image, steps", [(1, 50, 256), (32, 50, 32), (128, 100, 2)])
def test_plan_scales_the_work_by_image_area_and_caps_the_steps(batch, image, steps):
    settings = dict(run.FULL, numpy_image_sizes=(50, 100))
    samples, plan = run.plan_job("train", image, batch, ("scratchconv", "scratchconv-numpy"),
                                 settings)
    assert samples == steps * batch
    assert ("scratchconv", "step", steps, settings["repeats"]) in plan
    assert ("scratchconv-numpy", "step", max(1, steps // settings["numpy_divisor"]),
            settings["numpy_repeats"]) in plan


def test_plan_leaves_the_numpy_backend_out_at_other_image_sizes():
    _, plan = run.plan_job("train", 100, 32, ("scratchconv", "scratchconv-numpy"), run.FULL)
    assert [framework for framework, *_ in plan] == ["scratchconv", "scratchconv"]


def test_a_fresh_process_answers_with_its_last_line_or_fails_with_its_error_tail():
    script = "print('progress'); print('[1, 2]')"
    assert startup.in_fresh_processes(script, {}, "two processes", count=2) == [[1, 2], [1, 2]]
    with pytest.raises(startup.ProcessFailed,
                       match=r"^the broken one failed \(exit code 1\): boom$"):
        startup.in_fresh_processes("raise SystemExit('boom')", {}, "the broken one")


@pytest.mark.parametrize("argv, message", [
    (["--frameworks", "caffe"], "unknown framework caffe"),
    (["--batch-sizes", "32,0"], "expected positive integers"),
    (["--image-sizes", "10"], "--image-sizes must be at least 14"),
    (["--repeats", "0"], "--repeats must be at least 1"),
])
def test_bad_options_say_what_is_wrong(argv, message, capsys):
    with pytest.raises(SystemExit):
        run.parse_args(argv)
    assert message in capsys.readouterr().err


def test_startup_gives_the_first_process_and_the_median_of_the_warm_ones(monkeypatch):
    seconds = iter([50.0, 1.2, 0.9, 1.0])
    caches = []

    def fake_processes(script, env, what, count=1):
        caches.append(env["NUMBA_CACHE_DIR"])
        assert "PYTHONDONTWRITEBYTECODE" not in env  # a second run reads the first's bytecode
        return [next(seconds)]

    monkeypatch.setattr(startup, "in_fresh_processes", fake_processes)
    notes = []
    result = startup.measure(["scratchconv", "scratchconv-numpy"],
                             {"PYTHONDONTWRITEBYTECODE": "1"}, notes, warm=3)
    assert result == {"scratchconv": {"first_s": 50.0, "second_s": 1.0, "warm_s": [1.2, 0.9, 1.0]}}
    assert notes == [] and len(caches) == 4 and len(set(caches)) == 1  # one cache, filled first
    table = run.format_targets([], result)
    assert "| scratchconv; numba cache empty, then warm | 50.00 | 1.00 |" in table
    assert "the median of 3 warm processes" in table


@pytest.mark.parametrize("argv, message", [
    (["--frameworks", "caffe"], "unknown framework caffe"),
    (["--warm", "0"], "--warm must be at least 1, got 0"),
])
def test_startup_bad_options_say_what_is_wrong(argv, message, capsys):
    with pytest.raises(SystemExit):
        startup.main(argv)
    assert message in capsys.readouterr().err


def test_an_unusable_output_folder_is_one_sentence(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run.main(["--quick", "--out", str(blocker / "results")]) == 2
    assert "cannot use" in capsys.readouterr().err


def test_entry_point_runs_end_to_end_in_a_tiny_mode(tmp_path, capsys, tf):
    """A few steps of scratchconv and tf.keras: rows, ratios, JSON and plots come out."""
    code = run.main(["--quick", "--frameworks", "scratchconv,keras", "--repeats", "1",
                     "--train-samples", "64", "--predict-samples", "64",
                     "--skip-startup", "--skip-kernels",
                     "--out", str(tmp_path)])
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["notes"] == []
    series = {(r["framework"], r["api"], r["task"]) for r in results["rows"]}
    assert series == {("scratchconv", "fit", "train"), ("scratchconv", "step", "train"),
                      ("keras", "fit", "train"), ("keras", "step", "train"),
                      ("scratchconv", "predict", "predict"), ("keras", "predict", "predict"),
                      ("keras", "forward", "predict")}
    assert results["peak"]["gflops"] > 0
    step = next(r for r in results["rows"] if (r["framework"], r["api"]) == ("scratchconv", "step"))
    assert len(step["profile"]["layers"]) == 5  # two conv + pool pairs, flatten, two dense
    for row in results["rows"]:
        assert row["params"] == 519096
        assert len(row["seconds"]) == 1 and row["peak_rss_mb"] > 0
        assert row["gflops"] > 0 and row["peak_fraction"] > 0
        if row["framework"] == "scratchconv":
            assert row["ratio_to_tf"]["median"] > 0 and row["ratio_to_keras"]["median"] > 0
    assert (tmp_path / "throughput.png").stat().st_size > 0
    assert (tmp_path / "scaling.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "x TF compiled" in printed and "% of peak" in printed
    assert (tmp_path / "results.md").read_text().strip() in printed


def test_update_readme_replaces_only_the_results_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run.README_START}\nold\n{run.README_END}\noutro\n")
    run.update_readme("new table", readme)
    assert readme.read_text() == f"intro\n{run.README_START}\nnew table\n{run.README_END}\noutro\n"


def test_both_readmes_hold_the_kept_run_as_its_report_writes_it():
    # The pages' speed figures are written by --update-readme from results/results.json, never
    # by hand: each block is the report of that file.
    results = json.loads((ROOT / "benchmarks" / "results" / "results.json").read_text())
    for path, start, end, report in [(run.README, run.README_START, run.README_END, run.format_report),
                                     (run.TOP_README, run.SUMMARY_START, run.SUMMARY_END,
                                      run.format_summary)]:
        block = path.read_text().split(start, 1)[1].split(end, 1)[0]
        assert block == f"\n{report(results)}\n", f"{path}'s {start} block is not the kept run's report"


def test_the_summary_keeps_the_tutorial_rows_and_every_target():
    results = json.loads((ROOT / "benchmarks" / "results" / "results.json").read_text())
    summary = run.format_summary(results)
    table = [line for line in summary.splitlines() if line.startswith(("| train |", "| predict |"))]
    assert table and all(line.startswith(("| train | 50 | 32 |", "| predict | 50 | 32 |",
                                          "| predict | 50 | 256 |")) for line in table)
    assert all(t["target"] in summary for t in results["targets"])


def test_update_readme_without_markers_says_so(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no block here\n")
    with pytest.raises(ValueError, match="has no <!-- results:start --> ... <!-- results:end -->"):
        run.update_readme("table", readme)
    assert readme.read_text() == "no block here\n"


@pytest.mark.parametrize("vendor, family, flags, per_cycle", [
    ("GenuineIntel", "6", "fma avx2 avx512f", 64),
    ("AuthenticAMD", "25", "fma avx2 avx512f", 32),  # Zen 4: 512-bit FMAs in two halves
    ("AuthenticAMD", "26", "fma avx2 avx512f", 64),
    ("AuthenticAMD", "23", "fma avx2", 32),
])
def test_cpu_peak_counts_flops_per_cycle_from_the_vector_units(monkeypatch, vendor, family, flags, per_cycle):
    from benchmarks import kernels

    cpuinfo = (f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\n"
               f"cpu MHz\t\t: 2000.000\nflags\t\t: fpu sse {flags}\n")
    monkeypatch.setattr(kernels.Path, "read_text", lambda self: cpuinfo)
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 2)
    peak = kernels.cpu_peak()
    assert peak["gflops"] == pytest.approx(2 * 2.0 * per_cycle)
    assert f"x {per_cycle} FLOP/cycle/core" in peak["how"]


def test_choices_runs_every_section_in_a_tiny_mode(tmp_path, capsys, tf):
    """Every section, the settle one with tf.keras workers (hence ``tf``)."""
    from benchmarks import choices
    out = tmp_path / "choices.json"
    choices.main(["--tiny", "--json", str(out)])
    result = json.loads(out.read_text())
    assert set(result) == set(choices.SECTIONS)
    assert len(result["parallel"]["rows"]) == 3
    assert {row["c_in"] for row in result["winograd-training"]["rows"]} == set(choices.TRAINING_CHANNELS)
    assert 0 <= result["subnormal"]["subnormal_share"]["m"] <= 1
    threads = {row["setting"]: row for row in result["threads"]["rows"]}
    assert set(threads) == set(choices.THREAD_SETTINGS)
    assert threads["workqueue threading layer"]["layer"] == "workqueue"  # the setting took hold
    widths = result["vector-width"]["rows"]
    assert {row["task"] for row in widths} == {"predict 32", "predict 256", "train step 32"}
    assert "256-bit" in {row["width"] for row in widths}  # WIDE_VECTORS = False took hold
    settled = {(row["task"], row["batch"], row["way"], row["series"]) for row in result["settle"]["rows"]}
    assert ("predict", 32, "after its own", "keras forward / scratchconv predict") in settled
    assert ("train", 32, "after the plan's previous call", "keras step") in settled
    assert all(row["ms"] > 0 for row in result["settle"]["rows"])
    printed = capsys.readouterr().out
    assert all(f"{name}:" in printed for name in choices.SECTIONS)
    # the engine's thresholds are as they were
    from scratchconv.kernels import numba_kernels
    assert numba_kernels.PARALLEL_MIN_ENTRIES == 1 << 17
    assert numba_kernels.WINOGRAD_MIN_CHANNELS_TRAINING == 32
    assert numba_kernels.adam_update.__name__ == "adam_update"


def test_choices_names_an_unknown_section(capsys):
    from benchmarks import choices
    with pytest.raises(SystemExit):
        choices.main(["--only", "parallel,speed"])
    assert "got speed" in capsys.readouterr().err
