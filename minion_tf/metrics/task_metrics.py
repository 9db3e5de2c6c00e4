"""Task metrics in numpy: accuracy, Pearson r and the minBERT overall score.

Example:
    >>> accuracy(np.array([1, 0, 1]), np.array([1, 1, 1]))
    0.6666666666666666
    >>> overall_score(0.5, 0.8, pearson_r([1, 2, 3], [2, 4, 7]))
"""
from __future__ import annotations

import numpy as np


def accuracy(predictions, labels) -> float:
    """Fraction of predictions equal to their labels."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or predictions.size == 0:
        raise ValueError(f"accuracy needs equal non-empty shapes, got {predictions.shape} and {labels.shape}")
    return float(np.mean(predictions == labels))


def pearson_r(x, y) -> float:
    """Pearson correlation of two equally long vectors; NaN when either is constant."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"pearson_r needs two vectors of equal length >= 2, got {x.shape} and {y.shape}")
    dx, dy = x - x.mean(), y - y.mean()
    denom = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denom) if denom > 0 else float("nan")


def overall_score(sst_accuracy: float, paraphrase_accuracy: float, sts_pearson: float) -> float:
    """The CS224N minBERT score: (SST acc + paraphrase acc + (r + 1) / 2) / 3."""
    return (sst_accuracy + paraphrase_accuracy + (sts_pearson + 1.0) / 2.0) / 3.0
