"""Confidence intervals of test scores, in numpy: the percentile bootstrap over test examples.

Example:
    >>> low, high = bootstrap_interval(accuracy, predictions, labels)   # 95 %, 2,000 resamples
"""
from __future__ import annotations

import numpy as np


def bootstrap_interval(metric, predictions, labels, level: float = 0.95, draws: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """The `level` percentile interval of `metric(predictions, labels)` over resampled test examples.

    `predictions` and `labels` are indexed together on their first axis; resamples on which the
    metric is undefined (NaN, e.g. a constant vector for a correlation) are left out.
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    rng = np.random.default_rng(seed)
    n = len(labels)
    values = np.array([metric(predictions[idx], labels[idx]) for idx in (rng.integers(0, n, n) for _ in range(draws))])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def paired_interval(metric, predictions_a, predictions_b, labels, level: float = 0.95, draws: int = 2000,
                    seed: int = 0) -> tuple[float, float, float]:
    """(difference, low, high) of `metric(a) - metric(b)` on the same test examples, resampled together.

    Example:
        >>> paired_interval(accuracy, minion_predictions, fasttext_predictions, labels)   # (0.045, 0.023, 0.070)
    """
    both = np.stack([np.asarray(predictions_a), np.asarray(predictions_b)], axis=1)

    def difference(pair, truth):
        return metric(pair[:, 0], truth) - metric(pair[:, 1], truth)

    return (difference(both, np.asarray(labels)), *bootstrap_interval(difference, both, labels, level, draws, seed))
