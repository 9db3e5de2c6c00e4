"""Run one configuration end to end: data, training, test metrics, one JSON record.

Example:
    >>> record = run(RunConfig(model="minion", hidden=64, max_examples=2000, epochs=1))
    >>> record["test"]["accuracy"]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from minion_tf.cache import write_json_atomic
from minion_tf.callbacks import EnergyConfig
from minion_tf.metrics import apply_temperature, calibration_errors, nll, reliability_bins
from minion_tf.metrics.reliability_plot import plot_reliability
from minion_tf.runs.config import RunConfig
from minion_tf.runs.record import git_commit, package_versions, param_line
from minion_tf.runs.registry import get_method


def describe(config: RunConfig) -> dict:
    """Parameter counts from the encoder's config alone: no weights, no data, no network."""
    counts = get_method(config.model).describe(config)
    print(param_line(counts["trainable"], counts["total"]))
    return counts


def test_metrics(probs: np.ndarray, labels: np.ndarray, temperature: float | None = None) -> dict:
    """Accuracy, NLL and calibration (K = 20) of test predictions; also after temperature scaling."""
    labels = np.asarray(labels)
    out = {"accuracy": float((probs.argmax(1) == labels).mean()), "nll": nll(probs, labels),
           "examples": int(len(labels)), **calibration_errors(probs, labels),
           "reliability": {k: np.asarray(v).tolist() for k, v in reliability_bins(probs, labels).items()}}
    if temperature is not None and np.isfinite(temperature):
        scaled = apply_temperature(probs, temperature)
        out["temperature"] = float(temperature)
        out["scaled"] = {"nll": nll(scaled, labels), **calibration_errors(scaled, labels)}
    return out


def run(config: RunConfig) -> dict:
    """Train and test one configuration; a finished run (its run.json exists) is not redone."""
    method = get_method(config.model)
    run_dir = config.run_dir()
    record_path = run_dir / "run.json"
    if record_path.is_file():
        print(f"already finished: {record_path}")
        return json.loads(record_path.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    from minion_tf.runs.tweet_data import prepared_dir, read_splits

    start = time.perf_counter()
    prepared = prepared_dir(config)
    splits = read_splits(prepared)
    from minion_tf.callbacks.keras2 import CalibrationCallback, EnergyCallback

    energy = EnergyCallback(EnergyConfig(csv_path=str(run_dir / "energy.csv")))
    calibration = []

    def callbacks_for(val):
        calibration[:] = [CalibrationCallback(val, out_dir=str(run_dir))]
        return [energy, *calibration]

    with energy:
        result = method.train(config, splits, run_dir, callbacks_for)
    calib = calibration[0].summary if calibration else {}
    test = test_metrics(result["test_probs"], splits["test"][1], calib.get("temperature"))
    print(f"test: accuracy {test['accuracy']:.4f}  ACE {100 * test['ace']:.2f}  MCE {100 * test['mce']:.2f}  "
          f"NLL {test['nll']:.4f}  ({test['examples']} tweets)")
    plot_reliability({f"{config.model}-{config.hidden} test": (result["test_probs"], splits["test"][1])},
                     run_dir / "reliability_test.png")
    record = {
        "config": config.as_dict(),
        "epochs": result["history"],
        "test": test,
        "params": result["params"],
        "timings": {**result["timings"], "total_s": time.perf_counter() - start},
        "data": {name: len(texts) for name, (texts, _) in splits.items()},
        "prepared": str(prepared),  # its stats.json says how to normalise new texts (see submission)
        "energy": energy.summary,
        "calibration_val": calib,
        **result.get("details", {}),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    np.save(run_dir / "test_probs.npy", result["test_probs"])
    write_json_atomic(record_path, record)
    print(f"wrote {record_path}")
    return record
