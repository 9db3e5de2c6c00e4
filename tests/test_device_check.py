"""benchmarks/device_check.py on the CPU with fakes: rows and table, energy, cuDNN detection, the no-GPU exit."""
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from minion_tf.callbacks import EnergyConfig, EnergySampler
from minion_tf.errors import MinionError
from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30


def _load():
    return load_script("benchmarks/device_check.py", "device_check")


dc = _load()


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


class FakeNvml:
    """Stands in for `pynvml`: one GPU whose (util %, memory bytes, counter mJ) at clock time t is `script[t]`."""

    class NVMLError(Exception):
        pass

    def __init__(self, clock, script, gpus=1):
        self.clock, self.script, self.gpus = clock, script, gpus

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return self.gpus

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=self.script[self.clock()][0], memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=self.script[self.clock()][1])

    def nvmlDeviceGetPowerUsage(self, handle):
        return 70_000

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return self.script[self.clock()][2]


class NoNvml(FakeNvml):
    def __init__(self):
        super().__init__(FakeClock(), {})

    def nvmlInit(self):
        raise self.NVMLError("NVML Shared Library Not Found")


class FakeMemory:
    """Stands in for `TfMemory`: fixed bytes in use and peak."""

    def __init__(self, current=0.0, peak=3 * GIB):
        self.current_bytes, self.peak_bytes, self.resets = current, peak, 0

    def reset(self):
        self.resets += 1

    def current(self):
        return self.current_bytes

    def peak(self):
        return self.peak_bytes


@pytest.fixture(autouse=True)
def _one_gpu_visible(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def _measurement(model, label, policy, seconds, **extra):
    return {"model": model, "label": label, "precision": policy, "status": None, "steps": 20, "warmup_s": 30.0,
            "seconds": seconds, "energy_kwh": 1e-3, "energy_counter_kwh": 5e-4, "gpu_mem_peak_gib": 7.5,
            "tf_peak_bytes": 6 * GIB, "tf_held_bytes": 0.0, "trainable": 0, "total": 135_000_000,
            "gru_runtimes": None, **extra}


def _fake_measurements():
    """Fake timings: 20 steps each; full fine-tuning 20 s (float32), 8 s (mixed); forward 5 s / 2 s."""
    return [
        _measurement("minion", "MINION-64", "float32", 1.0, trainable=270_000, gru_runtimes=[2.0, 2.0]),
        _measurement("finetune", "full fine-tuning", "float32", 20.0, trainable=134_400_000),
        _measurement("forward", "frozen forward", "float32", 5.0),
        _measurement("read", "READ-64", "float32", 0.5, trainable=364_500, gru_runtimes=[1.0, 1.0]),
        _measurement("finetune", "full fine-tuning", "mixed_float16", 8.0, trainable=134_400_000),
        _measurement("forward", "frozen forward", "mixed_float16", 2.0),
        dc._skipped("read", "READ-64", "mixed_float16", "skipped (over the 420 s budget)"),
        _measurement("minion", "MINION-64", "mixed_float16", 0.4, trainable=270_000, gru_runtimes=[2.0, 0.0]),
    ]


def test_rows_hold_per_step_seconds_ratios_joules_and_gib():
    rows = dc.rows_from(_fake_measurements())
    assert [(r["model"], r["precision"]) for r in rows] == [
        ("full fine-tuning", "float32"), ("full fine-tuning", "mixed_float16"),
        ("frozen forward", "float32"), ("frozen forward", "mixed_float16"),
        ("READ-64", "float32"), ("READ-64", "mixed_float16"),
        ("MINION-64", "float32"), ("MINION-64", "mixed_float16")]
    full, _, forward, _, read, read_mixed, minion, minion_mixed = rows
    assert full["s/step"] == pytest.approx(1.0) and forward["s/step"] == pytest.approx(0.25)
    assert minion["s/step"] == pytest.approx(0.05)
    assert minion["÷ fwd"] == pytest.approx(0.05 / 0.25) and minion["÷ full"] == pytest.approx(0.05)
    assert minion_mixed["÷ fwd"] == pytest.approx(0.02 / 0.1) and minion_mixed["÷ full"] == pytest.approx(0.02 / 0.4)
    assert forward["÷ fwd"] == pytest.approx(1.0) and full["÷ full"] == pytest.approx(1.0)
    assert full["E util J"] == pytest.approx(3600.0) and full["E NVML J"] == pytest.approx(1800.0)  # 1 Wh, 0.5 Wh
    assert full["TF peak GiB"] == pytest.approx(6.0) and full["NVML GiB"] == pytest.approx(7.5)
    assert full["warm-up s"] == pytest.approx(30.0)
    assert full["trainable %"] == pytest.approx(100 * 134_400_000 / 135_000_000)
    assert minion["trainable %"] == pytest.approx(0.2) and math.isnan(forward["trainable %"])
    assert minion["GRU on cuDNN"] == "yes" and read["GRU on cuDNN"] == "no: 2/2 standard kernel"
    assert minion_mixed["GRU on cuDNN"] == "partly: 1/2 cuDNN, 1/2 not eligible"
    assert full["GRU on cuDNN"] == "n/a"
    assert read_mixed["status"] == "skipped (over the 420 s budget)" and "s/step" not in read_mixed


def test_table_has_the_columns_and_values_of_the_rows():
    table = dc.format_table(dc.rows_from(_fake_measurements()))
    lines = table.splitlines()
    assert lines[0].split("  ")[0] == "model"
    headers = [h.strip() for h in lines[0].split("  ") if h.strip()]
    assert headers == ["model", "precision", "s/step", "÷ fwd", "÷ full", "warm-up s", "E util J", "E NVML J",
                       "TF peak GiB", "NVML GiB", "trainable %", "GRU on cuDNN"]
    assert set(lines[1]) == {"-", " "} and len(lines) == 2 + 8
    minion = next(line for line in lines if line.startswith("MINION-64") and "float32" in line).split()
    assert minion == ["MINION-64", "float32", "0.0500", "0.20", "0.050", "30.0", "3600.0", "1800.0", "6.00",
                      "7.50", "0.200", "yes"]
    forward = next(line for line in lines if line.startswith("frozen forward") and "float32" in line)
    assert forward.split()[-2:] == ["-", "n/a"]  # no trainable share, no GRU
    skipped = next(line for line in lines if line.startswith("READ-64") and "mixed_float16" in line)
    assert skipped.split(None, 2)[2] == "skipped (over the 420 s budget)"
    columns = [lines[0].index(h) + len(h) for h in ("s/step", "E util J", "TF peak GiB")]  # right-aligned numbers
    for line in lines[2:]:
        if "skipped" not in line:
            assert all(line[end - 1] != " " for end in columns)


def test_energy_of_the_timed_steps_is_the_papers_formula_on_fake_utilisation_samples():
    """Five timed steps of 10 s each, one sample per step (the thread's work, done by hand):
    E = p0 / 36000 * sum_i u_i (eq. 2, 10 s samples); NVML: counter difference; warm-up not counted."""
    clock = FakeClock(100.0)
    util = {100.0: 5, 110.0: 7, 120.0: 40, 130.0: 60, 140.0: 80, 150.0: 100, 160.0: 20, 170.0: 90}
    counter_mj = {t: 1_000_000 + 50_000 * i * i for i, t in enumerate(util)}
    script = {t: (util[t], (2 + i) * GIB, counter_mj[t]) for i, t in enumerate(util)}
    sampler = EnergySampler(EnergyConfig(interval_s=10.0, p0_kw=0.4), nvml=FakeNvml(clock, script), clock=clock,
                            rapl_root="/nonexistent")

    def step():
        clock.t += 10.0
        sampler.so_far()  # samples while the sampler runs (the timed steps), nothing in the warm-up
        return {}

    figures = dc.timed(step, warmup=2, steps=5, sampler=sampler, clock=clock, sync=lambda outputs: None,
                       background=False)
    timed_util = [util[t] for t in (130.0, 140.0, 150.0, 160.0, 170.0)]  # sampled at the end of each timed step
    assert figures["warmup_s"] == pytest.approx(20.0) and figures["seconds"] == pytest.approx(50.0)
    assert figures["energy_kwh"] == pytest.approx(0.4 / 36000 * sum(timed_util))  # = 0.4/36000 * 350
    assert figures["energy_counter_kwh"] == pytest.approx((counter_mj[170.0] - counter_mj[120.0]) / 1e3 / 3.6e6)
    assert figures["gpu_mem_peak_gib"] == pytest.approx(9.0)
    row = dc.rows_from([{**figures, "model": "read", "label": "READ-64", "precision": "float32", "status": None,
                         "steps": 5, "tf_peak_bytes": GIB, "trainable": 1, "total": 2, "gru_runtimes": [2.0]}])[0]
    assert row["E util J"] == pytest.approx(0.4 * 1000 * 350 / 100 * 10)  # W * s: 400 W at 350 %-samples of 10 s
    assert row["E NVML J"] == pytest.approx((counter_mj[170.0] - counter_mj[120.0]) / 1e3)
    assert row["s/step"] == pytest.approx(10.0)


def test_cudnn_label_names_each_kernel():
    assert dc.cudnn_label([2.0, 2.0]) == "yes"
    assert dc.cudnn_label([1.0, 1.0]) == "no: 2/2 standard kernel"
    assert dc.cudnn_label([0.0]) == "no: 1/1 not eligible"
    assert dc.cudnn_label([-1.0, -1.0]) == "no: 2/2 not called"
    assert dc.cudnn_label([2.0, 1.0]) == "partly: 1/2 cuDNN, 1/2 standard kernel"
    assert dc.cudnn_label([math.nan, 2.0]) == "partly: 1/2 cuDNN, 1/2 unknown"
    assert dc.cudnn_label(None) == dc.cudnn_label([]) == "n/a"


@pytest.fixture(scope="module")
def bigru_model():
    """MINION's token GRU as its own model: Bidirectional(GRU(h, return_sequences=True)) called with a mask."""
    import tf_keras as keras

    x, mask = keras.Input((None, 6)), keras.Input((None,), dtype="bool")
    gru = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True), merge_mode="concat")
    return keras.Model([x, mask], gru(x, mask=mask))


def _inputs():
    import numpy as np

    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)  # right-padded, as cuDNN needs
    return [np.random.default_rng(0).normal(size=(2, 5, 6)).astype(np.float32), mask]


def test_gru_runtimes_reads_the_kernel_of_the_models_own_grus_on_the_cpu(bigru_model):
    """On a CPU the eligible GRUs run the standard kernel (1); the tap leaves the layers as they were."""
    import numpy as np

    layers = dc.gru_layers(bigru_model)
    assert sorted(layer.name for layer in layers) == ["backward_gru", "forward_gru"]  # not the template it copies
    before = bigru_model(_inputs())
    assert dc.gru_runtimes(bigru_model, _inputs()) == [1.0, 1.0]
    assert all("_defun_gru_call" not in vars(layer) for layer in layers)
    np.testing.assert_array_equal(bigru_model(_inputs()).numpy(), before.numpy())


def test_gru_runtimes_reports_cudnn_when_the_gru_says_so(bigru_model, monkeypatch):
    """A GPU's answer, faked: the runtime tensor tf_keras' GRU computes says 2 (what `gpu_gru` returns)."""
    import tensorflow as tf
    from tf_keras.src.layers.rnn import gru_lstm_utils

    monkeypatch.setattr(gru_lstm_utils, "runtime", lambda _: tf.constant(2.0, name="runtime"))
    runtimes = dc.gru_runtimes(bigru_model, _inputs())
    assert runtimes == [2.0, 2.0] and dc.cudnn_label(runtimes) == "yes"


def test_gru_runtimes_tells_settings_cudnn_cannot_run_and_models_without_gru():
    import numpy as np
    import tf_keras as keras

    relu = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4, activation="relu")])
    assert dc.gru_runtimes(relu, np.zeros((2, 5, 3), np.float32)) == [0.0]
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert dc.gru_runtimes(dense, np.zeros((2, 3), np.float32)) == []


def test_precision_sets_the_policy_inside_and_restores_it_after_even_on_error():
    import tf_keras as keras

    before = keras.mixed_precision.global_policy().name
    with dc.precision("mixed_float16"):
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == before
    with pytest.raises(RuntimeError), dc.precision("mixed_float16"):
        raise RuntimeError("model failed")
    assert keras.mixed_precision.global_policy().name == before


def test_synthetic_batch_is_right_padded_with_the_pad_id_only_in_the_padding():
    ids, mask, labels = dc.synthetic_batch(64, 32, vocab_size=50, pad_id=1, seed=3)
    lengths = mask.sum(axis=1)
    assert ids.shape == mask.shape == (64, 32) and labels.shape == (64,)
    assert lengths.min() >= 16 and lengths.max() <= 32
    assert all(mask[i, :n].all() and not mask[i, n:].any() for i, n in enumerate(lengths))
    assert ((ids == 1) == (mask == 0)).all() and ids.max() < 50 and ids.min() >= 0
    assert set(labels.tolist()) <= {0, 1}


def test_settings_refuse_bad_values_in_one_line():
    for bad in ({"steps": 0}, {"warmup": 0}, {"tokens": 1}, {"precisions": ("bfloat16",)}, {"budget_s": 0},
                {"interval_s": -1.0}):
        with pytest.raises(MinionError):
            dc.Settings(**bad)


def test_no_gpu_reason_says_what_is_missing():
    no_tf_gpu = lambda: ([], "TensorFlow 9.9 (built with CUDA 12)")  # noqa: E731
    reason = dc.no_gpu_reason(nvml=NoNvml(), tf_gpus=no_tf_gpu)
    assert "no NVIDIA driver" in reason and "NVML Shared Library Not Found" in reason and "sees no GPU" in reason
    reason = dc.no_gpu_reason(nvml=FakeNvml(FakeClock(), {}, gpus=1), tf_gpus=no_tf_gpu)
    assert "NVML sees 1 GPU(s) but TensorFlow 9.9 (built with CUDA 12) sees none" in reason
    assert "\n" not in reason
    assert dc.no_gpu_reason(nvml=NoNvml(), tf_gpus=lambda: (["GPU:0"], "TensorFlow")) is None


def test_over_budget_skips_every_row_without_building_anything():
    def fail():
        raise AssertionError("the encoder was built over the budget")

    clock = FakeClock(1000.0)
    rows = dc.measure_all(dc.Settings(budget_s=10.0), sampler=None, memory=FakeMemory(), backbone_factory=fail,
                          clock=clock, start=0.0, log=lambda message: None)
    assert [(r["model"], r["precision"]) for r in rows] == [(m, p) for p in dc.PRECISIONS for m in dc.MODELS]
    assert {r["status"] for r in rows} == {"skipped (over the 10 s budget)"}


def test_the_budget_counts_from_the_call_not_from_the_import():
    """However long after the import (here 1000 s on the clock), a call's rows are measured, not skipped."""
    class Built(Exception):
        pass

    def build():
        raise Built

    with pytest.raises(Built):
        dc.measure_all(dc.Settings(budget_s=10.0), sampler=None, memory=FakeMemory(), backbone_factory=build,
                       clock=FakeClock(1000.0), log=lambda message: None)


@pytest.mark.parametrize("command", ["sh", "py"])
def test_without_a_gpu_it_prints_one_line_and_exits_0(command):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    args = (["bash", str(ROOT / "benchmarks" / "device_check.sh")] if command == "sh"
            else [sys.executable, str(ROOT / "benchmarks" / "device_check.py")])
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("device check: nothing measured:"), result.stdout
    assert "GPU" in lines[0]


def _tiny_roberta():
    from transformers import RobertaConfig

    from minion_tf.backbones import Backbone, encoder_from_config

    config = RobertaConfig(vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=20, pad_token_id=1)
    return Backbone(name="tiny-roberta", encoder=encoder_from_config(config), tokenizer=None, config=config)


@pytest.mark.slow
def test_the_gpu_path_measures_every_row_on_a_tiny_encoder_on_the_cpu():
    """The whole measuring path (models built by the methods, TrainOnly, compile_for), float32, with a
    fake GPU memory and fake NVML: every row measured, the GRUs tapped, the policy back as it was."""
    import tf_keras as keras

    clock = FakeClock(0.0)
    sampler = EnergySampler(EnergyConfig(interval_s=60.0), nvml=FakeNvml(clock, {0.0: (50, GIB, 1000)}), clock=clock,
                            rapl_root="/nonexistent")
    memory = FakeMemory(peak=2 * GIB)
    before = keras.mixed_precision.global_policy().name
    settings = dc.Settings(steps=2, warmup=1, batch_size=4, tokens=8, precisions=("float32",))
    measurements = dc.measure_all(settings, sampler, memory, _tiny_roberta, log=lambda message: None)
    assert keras.mixed_precision.global_policy().name == before
    assert [m["model"] for m in measurements] == list(dc.MODELS) and not any(m["status"] for m in measurements)
    by_model = {m["model"]: m for m in measurements}
    for side in ("read", "minion"):  # two GRU directions each: the CPU kernel, or not called (a CPU-only recurrence)
        runtimes = by_model[side]["gru_runtimes"]
        assert len(runtimes) == 2 and set(runtimes) <= {1.0, -1.0}
    assert by_model["finetune"]["gru_runtimes"] is None
    encoder = by_model["forward"]["total"]
    assert 0 < by_model["finetune"]["trainable"] < by_model["finetune"]["total"]  # less its unused pooler
    assert all(by_model[side]["trainable"] == by_model[side]["total"] - encoder for side in ("read", "minion"))
    assert memory.resets == 4 and all(m["tf_peak_bytes"] == 2 * GIB for m in measurements)
    assert all(m["seconds"] >= 0 and m["steps"] == 2 for m in measurements)
    table = dc.format_table(dc.rows_from(measurements))
    assert len(table.splitlines()) == 2 + 4 and "no: 2/2" in table
