"""Paired comparison of two finished runs on the same test examples, from the test predictions and
labels saved beside their run.json (`test_probs.npy`, `test_labels.npy`).

Example:
    >>> compare_runs(Path("runs/text-minion-64-..."), Path("runs/text-fasttext-..."))["accuracy"]
    (0.031, 0.004, 0.058)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.metrics.intervals import paired_interval
from minion_tf.metrics.task_metrics import METRICS


def saved_test_outputs(folder: Path):
    """(class ids or scores, labels) of a run's test split, from the files beside its run.json; None without."""
    probs, labels = Path(folder) / "test_probs.npy", Path(folder) / "test_labels.npy"
    if not (probs.is_file() and labels.is_file()):
        return None
    predictions = np.load(probs)
    return (predictions.argmax(axis=1) if predictions.shape[1] > 1 else predictions[:, 0]), np.load(labels)


def compare_runs(run_a: Path, run_b: Path, draws: int = 2000) -> dict:
    """{metric: (a - b, low, high)}: each test metric's difference with its 95 % paired bootstrap interval."""
    outputs, metrics = [], None
    for folder in (Path(run_a), Path(run_b)):
        found = saved_test_outputs(folder)
        if found is None:
            raise MinionError(f"{folder}: no test_probs.npy and test_labels.npy (a run finished before they were saved?)")
        outputs.append(found)
        names = list(json.loads((folder / "run.json").read_text())["test"]["metrics"])
        metrics = names if metrics is None else [m for m in metrics if m in names]
    (a, labels), (b, labels_b) = outputs
    if labels.shape != labels_b.shape or not np.array_equal(labels, labels_b):
        raise MinionError(f"{run_a} and {run_b} were tested on different examples; a paired comparison needs the same")
    return {m: paired_interval(METRICS[m], a, b, labels, draws=draws) for m in metrics}
