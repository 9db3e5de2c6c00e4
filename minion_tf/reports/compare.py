"""Paired comparison of two finished runs on the same test examples, from the test predictions and
labels saved beside their run.json (`test_probs.npy`, `test_labels.npy`); and the intervals of a
classifier's accuracy and ACE from the same files.

Example:
    >>> compare_runs(Path("runs/text-minion-64-..."), Path("runs/text-fasttext-..."))["accuracy"]
    (0.031, 0.004, 0.058)
    >>> score_difference(Path("runs/minion-64-..."), Path("runs/finetune-..."), "ace")
    (-0.012, -0.021, -0.004)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.metrics.calibration import ace
from minion_tf.metrics.intervals import bootstrap_interval, paired_interval
from minion_tf.metrics.task_metrics import METRICS, accuracy


def saved_test_probs(folder: Path):
    """(test outputs as saved, labels) of a run, from the files beside its run.json; None without them."""
    probs, labels = Path(folder) / "test_probs.npy", Path(folder) / "test_labels.npy"
    if not (probs.is_file() and labels.is_file()):
        return None
    return np.load(probs), np.load(labels)


def saved_test_outputs(folder: Path):
    """(class ids or scores, labels) of a run's test split, from the files beside its run.json; None without."""
    found = saved_test_probs(folder)
    if found is None:
        return None
    predictions, labels = found
    return (predictions.argmax(axis=1) if predictions.shape[1] > 1 else predictions[:, 0]), labels


def same_examples(labels_a, labels_b) -> bool:
    """Whether two runs' test labels are the same, the sign that they were tested on the same examples."""
    return labels_a.shape == labels_b.shape and np.array_equal(labels_a, labels_b)


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
    if not same_examples(labels, labels_b):
        raise MinionError(f"{run_a} and {run_b} were tested on different examples; a paired comparison needs the same")
    return {m: paired_interval(METRICS[m], a, b, labels, draws=draws) for m in metrics}


def probs_accuracy(probs, labels) -> float:
    """Accuracy of class probabilities (N, k), k >= 2: the arg-max class against the labels."""
    return accuracy(np.asarray(probs).argmax(axis=1), labels)


SCORES = {"accuracy": probs_accuracy, "ace": ace}  # scores of a classifier's (N, k) test probabilities


def in_points(values) -> list[float | None]:
    """An interval or difference (fractions) in points; three Nones where there is none (zip takes what it needs).

    Example:
        >>> in_points((0.01, -0.002, 0.03)), in_points(None)
        ([1.0, -0.2, 3.0], [None, None, None])
    """
    return [None] * 3 if values is None else [100 * v for v in values]


def score_interval(folder: Path, score: str) -> tuple[float, float] | None:
    """95 % bootstrap interval (2,000 resamples, seed 0) of `score` ("accuracy", "ace") over a run's test
    examples, as fractions; None when the run has no saved test outputs.

    Example:
        >>> score_interval(Path("runs/minion-64-lr0.0003-s0-a3260de8"), "accuracy")
        (0.7735, 0.8085)
    """
    found = saved_test_probs(folder)
    return None if found is None else bootstrap_interval(SCORES[score], *found)


def score_difference(folder_a: Path, folder_b: Path, score: str) -> tuple[float, float, float] | None:
    """(a - b, low, high) of `score` ("accuracy", "ace") with its 95 % paired bootstrap interval (2,000
    resamples, seed 0), as fractions; None when either run has no saved test outputs or the two were
    tested on different examples."""
    found_a, found_b = saved_test_probs(folder_a), saved_test_probs(folder_b)
    if found_a is None or found_b is None or not same_examples(found_a[1], found_b[1]):
        return None
    return paired_interval(SCORES[score], found_a[0], found_b[0], found_a[1])


def metric_difference(folder_a: Path, folder_b: Path, metric: str) -> tuple[float, float, float] | None:
    """(a - b, low, high) of a task metric (`task_metrics.METRICS`: "f1", "spearman", ...) on class ids or
    scores, with its 95 % paired bootstrap interval (2,000 resamples, seed 0); None when either run has no
    saved test outputs or the two were tested on different examples."""
    found_a, found_b = saved_test_outputs(folder_a), saved_test_outputs(folder_b)
    if found_a is None or found_b is None or not same_examples(found_a[1], found_b[1]):
        return None
    return paired_interval(METRICS[metric], found_a[0], found_b[0], found_a[1])
