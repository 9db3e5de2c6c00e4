"""Fabricated but valid tweet run records and their saved test outputs, for the report tests."""
import json
import math
from pathlib import Path

import numpy as np

NAN = math.nan


def record(model, hidden, lr, trainable, total, accuracy, ace, mce, rss, wall, energy=NAN, train=800, test=100):
    """A tweet run.json's content (no test outputs: `save_outputs` writes those)."""
    bins = {"confidence": [0.1, 0.5, NAN, 0.9], "accuracy": [0.2, 0.5, NAN, 0.8], "count": [3, 4, 0, 3],
            "edges": [0, 0.25, 0.5, 0.75, 1]}
    return {"config": {"model": model, "hidden": hidden, "lr": lr, "encoder": "minilm"},
            "params": {"trainable": trainable, "total": total}, "data": {"train": train, "val": 100, "test": test},
            "test": {"accuracy": accuracy, "ace": ace, "mce": mce, "examples": test, "reliability": bins},
            "energy": {"energy_kwh": energy, "cpu_energy_kwh": NAN, "power_kw": NAN, "gpu_mem_peak_gib": NAN,
                       "rss_peak_gib": rss},
            "timings": {"train_s": wall - 10, "total_s": wall}, "epochs": [{"val_accuracy": accuracy}]}


def write_run(runs: Path, name: str, rec: dict) -> Path:
    """`runs/name/run.json`; returns the run's folder."""
    (runs / name).mkdir(parents=True)
    (runs / name / "run.json").write_text(json.dumps(rec))
    return runs / name


def outputs(labels, correct, confidence=0.8):
    """(N, 2) probabilities whose arg-max is right exactly where `correct` is, at `confidence`."""
    labels, correct = np.asarray(labels), np.asarray(correct, dtype=bool)
    predicted = np.where(correct, labels, 1 - labels)
    positive = np.where(predicted == 1, confidence, 1 - confidence)
    return np.stack([1 - positive, positive], axis=1)


def save_outputs(folder: Path, probs, labels) -> None:
    np.save(folder / "test_probs.npy", np.asarray(probs))
    np.save(folder / "test_labels.npy", np.asarray(labels))
