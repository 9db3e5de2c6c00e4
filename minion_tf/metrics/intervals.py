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
    values = np.array([metric(predictions[idx], labels[idx]) for idx in rng.integers(0, n, size=(draws, n))])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))
