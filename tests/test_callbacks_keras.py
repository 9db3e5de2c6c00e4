"""The energy and calibration callbacks inside real `fit` calls, in tf_keras and in Keras 3."""
import csv
import gc
import json
import math
import warnings
from types import SimpleNamespace

import keras
import numpy as np
import pynvml
import pytest
import tensorflow as tf
import tf_keras

from minion_tf.callbacks import ENERGY_KEYS, EnergyConfig, keras2, keras3
from minion_tf.metrics import calibration_errors

CALIBRATION_KEYS = ("val_ace", "val_mce", "val_ece")
FLAVOURS = {"tf_keras": (keras2, tf_keras), "keras3": (keras3, keras)}


class SteadyGpu:
    """A fake `pynvml` with one GPU at 50 % utilisation and 2 GiB, whose counter climbs 1 J per read."""

    class NVMLError(Exception):
        pass

    def __init__(self):
        self.counter_mj = 0

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=50)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=2 * 2**30)

    def nvmlDeviceGetPowerUsage(self, handle):
        return 200_000

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self.counter_mj += 1000
        return self.counter_mj


@pytest.fixture(autouse=True)
def _all_gpus_visible(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def _data(seed=0, n=96):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype("int64")


def _model(backend):
    layers = backend.layers
    model = backend.Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                                layers.Dense(2, activation="softmax")])
    model.compile(optimizer=backend.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def _energy(module, tmp_path, **config):
    return module.EnergyCallback(EnergyConfig(**config), nvml=SteadyGpu(), rapl_root=tmp_path / "no-rapl")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("source", ["arrays", "dataset", "function"])
def test_figures_reach_csvlogger_history_and_summary(flavour, source, tmp_path):
    module, backend = FLAVOURS[flavour]
    (x, y), (xv, yv) = _data(0), _data(1, n=40)
    model = _model(backend)
    validation = {"arrays": (xv, yv), "dataset": tf.data.Dataset.from_tensor_slices((xv, yv)).batch(16),
                  "function": lambda: (model.predict(xv, verbose=0), yv)}[source]  # predicted elsewhere
    energy = _energy(module, tmp_path, interval_s=0.01, csv_path=tmp_path / "energy.csv")
    calibration = module.CalibrationCallback(validation, out_dir=tmp_path / "calibration")
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                        callbacks=[energy, calibration, backend.callbacks.CSVLogger(str(tmp_path / "log.csv"))])
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert len(rows) == 2 and set(ENERGY_KEYS + CALIBRATION_KEYS) <= set(rows[0])
    for row in rows:
        duration = float(row["duration_s"])
        assert float(row["energy_kwh"]) == pytest.approx(0.4 * 0.5 * duration / 3600, rel=1e-9)
        assert float(row["power_kw"]) == pytest.approx(0.2, rel=1e-9)
        assert float(row["gpu_mem_peak_gib"]) == 2.0 and float(row["energy_counter_kwh"]) > 0
        assert math.isnan(float(row["cpu_energy_kwh"])) and float(row["rss_peak_gib"]) > 0
    final = calibration_errors(model.predict(xv, verbose=0), yv)
    assert float(rows[-1]["val_ace"]) == pytest.approx(final["ace"], rel=1e-6)
    assert history.history["energy_kwh"][-1] == pytest.approx(float(rows[-1]["energy_kwh"]))
    assert set(energy.summary) == set(ENERGY_KEYS)
    assert energy.summary["duration_s"] >= sum(float(r["duration_s"]) for r in rows)
    assert calibration.summary["val_ace"] == pytest.approx(final["ace"], rel=1e-6)
    assert calibration.summary["temperature"] > 0
    saved = json.loads((tmp_path / "calibration" / "calibration_bins.json").read_text())
    assert [e["epoch"] for e in saved["epochs"]] == [0, 1]
    assert (tmp_path / "calibration" / "reliability.png").exists()
    assert energy.sampler.thread is None


def test_state_resets_between_fits(tmp_path):
    (x, y), (xv, yv) = _data(0), _data(1, n=40)
    energy = _energy(keras2, tmp_path, interval_s=3600, csv_path=tmp_path / "energy.csv")
    calibration = keras2.CalibrationCallback((xv, yv), out_dir=tmp_path)
    model = _model(tf_keras)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[energy, calibration])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[energy, calibration])
    assert [e["epoch"] for e in calibration.monitor.epochs] == [0]
    assert [e["epoch"] for e in json.loads((tmp_path / "calibration_bins.json").read_text())["epochs"]] == [0]
    rows = list(csv.DictReader((tmp_path / "energy.csv").open()))
    assert {r["epoch"] for r in rows} == {"", "0"} and float(rows[0]["elapsed_s"]) == 0
    assert energy.summary["duration_s"] == pytest.approx(float(rows[-1]["elapsed_s"]), abs=1e-3)


def _boom_class(backend):
    class Boom(backend.callbacks.Callback):
        """Raises in the second training batch, after noting the energy sampler's thread."""

        def __init__(self, energy):
            super().__init__()
            self.energy = energy
            self.thread = None

        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.thread = self.energy.sampler.thread
                raise RuntimeError("boom in batch 1")

    return Boom


BOOM = {name: _boom_class(backend) for name, (_, backend) in FLAVOURS.items()}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_thread_stops_after_an_exception_in_fit(flavour, tmp_path):
    module, backend = FLAVOURS[flavour]
    x, y = _data(0)
    model = _model(backend)
    energy = _energy(module, tmp_path, interval_s=3600)
    boom = BOOM[flavour](energy)
    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[energy, boom])
    assert boom.thread.is_alive()  # Keras skips on_train_end when fit raises
    partial = energy.close()
    assert not boom.thread.is_alive() and partial["duration_s"] > 0

    with pytest.raises(RuntimeError, match="boom"):
        with _energy(module, tmp_path, interval_s=3600) as energy:
            boom = BOOM[flavour](energy)
            model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[energy, boom])
    assert not boom.thread.is_alive()

    energy = _energy(module, tmp_path, interval_s=3600)
    boom = BOOM[flavour](energy)
    with pytest.raises(RuntimeError, match="boom") as raised:
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[energy, boom])
    thread = boom.thread
    del energy, boom, raised  # nothing left holds the callback: its finaliser ends the thread
    gc.collect()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_without_nvml_fit_completes_with_nan_and_one_warning(monkeypatch, tmp_path):
    def library_not_found():
        raise pynvml.NVMLError_LibraryNotFound()

    monkeypatch.setattr(pynvml, "nvmlInit", library_not_found)
    x, y = _data(0)
    energy = keras2.EnergyCallback(EnergyConfig(interval_s=0.01), rapl_root=str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = _model(tf_keras).fit(x, y, epochs=2, verbose=0, callbacks=[energy])
    ours = [w for w in caught if "EnergySampler" in str(w.message)]
    assert len(ours) == 1 and "NVML Shared Library Not Found" in str(ours[0].message)
    assert len(history.history["loss"]) == 2
    assert all(math.isnan(v) for v in history.history["energy_kwh"] + history.history["gpu_mem_peak_gib"])
    assert math.isnan(energy.summary["energy_counter_kwh"]) and energy.summary["duration_s"] > 0


def test_tf_keras_adapter_does_not_import_keras3():
    import os
    import subprocess
    import sys

    # A tf_keras user's process: TF_USE_LEGACY_KERAS=1 (without it, TensorFlow itself imports Keras 3).
    code = ("import sys; import minion_tf.callbacks.keras2; "
            "print(any(m == 'keras' or m.startswith('keras.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TF_USE_LEGACY_KERAS": "1"}).stdout
    assert out.strip() == "False"
