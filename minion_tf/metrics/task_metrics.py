"""Task metrics in numpy: accuracy, F1, Matthews correlation, Pearson r, Spearman rho, the
minBERT overall score, and the GLUE metrics of a task.

Example:
    >>> accuracy(np.array([1, 0, 1]), np.array([1, 1, 1]))
    0.6666666666666666
    >>> overall_score(0.5, 0.8, pearson_r([1, 2, 3], [2, 4, 7]))
    >>> glue_metrics("mrpc", [1, 0, 1], [1, 1, 1])       # {"f1": 0.8, "accuracy": 0.666...}
"""
from __future__ import annotations

import numpy as np

from minion_tf.errors import MinionError


def accuracy(predictions, labels) -> float:
    """Fraction of predictions equal to their labels."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or predictions.size == 0:
        raise MinionError(f"accuracy needs equal non-empty shapes, got {predictions.shape} and {labels.shape}")
    return float(np.mean(predictions == labels))


def pearson_r(x, y) -> float:
    """Pearson correlation of two equally long vectors; NaN when either is constant."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise MinionError(f"pearson_r needs two vectors of equal length >= 2, got {x.shape} and {y.shape}")
    dx, dy = x - x.mean(), y - y.mean()
    denom = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denom) if denom > 0 else float("nan")


def overall_score(sst_accuracy: float, paraphrase_accuracy: float, sts_pearson: float) -> float:
    """The CS224N minBERT score: (SST acc + paraphrase acc + (r + 1) / 2) / 3."""
    return (sst_accuracy + paraphrase_accuracy + (sts_pearson + 1.0) / 2.0) / 3.0


def minbert_metrics(predictions: dict, labels: dict) -> dict:
    """The minBERT metrics of {task: predictions} and {task: labels}, and the overall score when SST, paraphrase
    and STS are all there.

    Example:
        >>> minbert_metrics({"sts": np.array([1., 2, 4])}, {"sts": np.array([1., 3, 4])})  # {"sts_pearson": 0.928...}
    """
    out = {}
    for task, preds in predictions.items():
        if task == "sts":
            out["sts_pearson"] = pearson_r(preds, labels[task])
        else:
            out[f"{task}_accuracy"] = accuracy(np.asarray(preds).astype(np.int64), labels[task])
    if all(k in out for k in ("sst_accuracy", "para_accuracy", "sts_pearson")):
        out["score"] = overall_score(out["sst_accuracy"], out["para_accuracy"], out["sts_pearson"])
    return out


def _pair(predictions, labels, name: str):
    predictions, labels = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
    if predictions.shape != labels.shape or predictions.size == 0:
        raise MinionError(f"{name} needs equal non-empty shapes, got {predictions.shape} and {labels.shape}")
    return predictions, labels


def f1(predictions, labels) -> float:
    """Binary F1 of the positive class 1: 2 TP / (2 TP + FP + FN); 0 when there is no positive at all."""
    predictions, labels = _pair(predictions, labels, "f1")
    tp = np.sum((predictions == 1) & (labels == 1))
    wrong = np.sum(predictions != labels)
    return float(2 * tp / (2 * tp + wrong)) if tp + wrong > 0 else 0.0


def matthews_corrcoef(predictions, labels) -> float:
    """Matthews correlation (multi-class, Gorodkin's R_K); 0 when either side holds a single class."""
    predictions, labels = _pair(predictions, labels, "matthews_corrcoef")
    classes, index = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    confusion = np.zeros((classes.size, classes.size), dtype=np.float64)
    np.add.at(confusion, (index[: labels.size], index[labels.size:]), 1.0)
    true_k, pred_k = confusion.sum(axis=1), confusion.sum(axis=0)
    n, correct = confusion.sum(), np.trace(confusion)
    denom = np.sqrt((n * n - pred_k @ pred_k) * (n * n - true_k @ true_k))
    return float((correct * n - pred_k @ true_k) / denom) if denom > 0 else 0.0


def average_ranks(x) -> np.ndarray:
    """Ranks 1..n of `x`, ties sharing the mean of the ranks they span."""
    x = np.asarray(x, dtype=np.float64).ravel()
    order = np.argsort(x, kind="mergesort")
    values, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0
    ranks = np.empty_like(x)
    ranks[order] = np.repeat(mean_rank, counts)
    return ranks


def spearman(x, y) -> float:
    """Spearman's rho: Pearson r of the average ranks (ties handled); NaN when either is constant."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise MinionError(f"spearman needs two vectors of equal length >= 2, got {x.shape} and {y.shape}")
    return pearson_r(average_ranks(x), average_ranks(y))


def macro_recall(predictions, labels) -> float:
    """Recall averaged over the classes that occur in `labels` (TweetEval's sentiment metric)."""
    predictions, labels = _pair(predictions, labels, "macro_recall")
    return float(np.mean([np.mean(predictions[labels == c] == c) for c in np.unique(labels)]))


def macro_f1(predictions, labels) -> float:
    """F1 of each class (one against the rest), averaged over the classes in labels or predictions."""
    predictions, labels = _pair(predictions, labels, "macro_f1")
    scores = []
    for c in np.unique(np.concatenate([labels, predictions])):
        tp = np.sum((predictions == c) & (labels == c))
        wrong = np.sum((predictions == c) != (labels == c))
        scores.append(2 * tp / (2 * tp + wrong))
    return float(np.mean(scores))


METRICS = {"accuracy": accuracy, "f1": f1, "matthews_corrcoef": matthews_corrcoef,
           "pearson": pearson_r, "spearman": spearman, "macro_recall": macro_recall, "macro_f1": macro_f1}


def glue_metrics(task, predictions, labels) -> dict[str, float]:
    """Every metric of `task` (a name or a `TaskSpec`), e.g. CoLA: Matthews correlation and accuracy.

    `predictions` are class ids, or class probabilities (N, C) which are arg-maxed; for a
    regression task (STS-B) they are scores, (N,) or (N, 1).
    """
    from minion_tf.data.glue import get_task

    spec = get_task(task) if isinstance(task, str) else task
    predictions = np.asarray(predictions)
    if not spec.is_regression and predictions.ndim == 2:
        predictions = predictions.argmax(axis=1)
    return {name: METRICS[name](predictions.reshape(-1), np.asarray(labels).reshape(-1)) for name in spec.metrics}


def primary_score(task, metrics: dict) -> float:
    """The score that selects models for `task`: its primary metric out of `glue_metrics`."""
    from minion_tf.data.glue import get_task

    spec = get_task(task) if isinstance(task, str) else task
    return metrics[spec.primary]
