"""F1, Matthews correlation, Spearman and the GLUE metric table, against hand values and pandas."""
import itertools

import numpy as np
import pandas as pd
import pytest

from minion_tf.data.glue import TASKS
from minion_tf.metrics.task_metrics import (average_ranks, f1, glue_metrics, matthews_corrcoef, primary_score,
                                            spearman)


def test_f1_hand_case():
    # TP = 2 (idx 0, 3), FP = 1 (idx 1), FN = 1 (idx 4): F1 = 4 / (4 + 2)
    assert f1([1, 1, 0, 1, 0], [1, 0, 0, 1, 1]) == pytest.approx(2 / 3)
    assert f1([0, 0], [0, 0]) == 0.0


def test_f1_matches_precision_recall_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, y = rng.integers(0, 2, 30), rng.integers(0, 2, 30)
        tp = sum(a == b == 1 for a, b in zip(p, y))
        precision, recall = tp / max(1, sum(p == 1)), tp / max(1, sum(y == 1))
        assert f1(p, y) == pytest.approx(2 * precision * recall / (precision + recall) if tp else 0.0)


def test_matthews_hand_cases():
    # TP 2, TN 1, FP 1, FN 1: (2*1 - 1*1) / sqrt(3*3*2*2) = 1/6
    assert matthews_corrcoef([1, 1, 0, 1, 0], [1, 0, 0, 1, 1]) == pytest.approx(1 / 6)
    assert matthews_corrcoef([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
    assert matthews_corrcoef([0, 1, 0], [1, 0, 1]) == pytest.approx(-1.0)
    assert matthews_corrcoef([1, 1, 1], [1, 0, 1]) == 0.0       # a constant prediction


def test_matthews_binary_equals_pearson_of_indicators():
    rng = np.random.default_rng(1)
    for _ in range(20):
        p, y = rng.integers(0, 2, 40), rng.integers(0, 2, 40)
        assert matthews_corrcoef(p, y) == pytest.approx(pd.Series(p).corr(pd.Series(y)))


def test_matthews_multiclass_brute_force():
    """R_K is the correlation of one-hot matrices: cov(X, Y) / sqrt(cov(X, X) cov(Y, Y)) summed over classes."""
    rng = np.random.default_rng(2)
    p, y = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    x, z = np.eye(3)[p], np.eye(3)[y]
    cov = lambda a, b: sum(np.mean((a[:, k] - a[:, k].mean()) * (b[:, k] - b[:, k].mean())) for k in range(3))
    assert matthews_corrcoef(p, y) == pytest.approx(cov(x, z) / np.sqrt(cov(x, x) * cov(z, z)))


def test_spearman_with_ties_matches_pandas():
    assert list(average_ranks([10, 20, 20, 5])) == [2.0, 3.5, 3.5, 1.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    for _ in range(10):
        x, y = rng.integers(0, 5, 25).astype(float), rng.normal(size=25).round(1)
        assert spearman(x, y) == pytest.approx(pd.Series(x).rank().corr(pd.Series(y).rank()))  # pandas: average ranks


def test_average_ranks_brute_force():
    x = [3, 1, 3, 2, 3, 1]
    brute = [np.mean([r + 1 for r, v in enumerate(sorted(x)) if v == value]) for value in x]
    assert list(average_ranks(x)) == brute
    for perm in itertools.permutations([1, 1, 2]):
        assert sorted(average_ranks(perm)) == [1.5, 1.5, 3.0]


def test_glue_metrics_per_task():
    m = glue_metrics("cola", np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]]), [1, 0, 0])
    assert set(m) == {"matthews_corrcoef", "accuracy"} and m["accuracy"] == pytest.approx(2 / 3)
    assert primary_score("cola", m) == m["matthews_corrcoef"]
    assert set(glue_metrics("mrpc", [1, 0], [1, 1])) == {"f1", "accuracy"}
    s = glue_metrics("stsb", np.array([[0.5], [2.0], [4.5]]), [1.0, 2.5, 4.0])
    assert s["spearman"] == pytest.approx(1.0) and 0.9 < s["pearson"] < 1.0
    assert set(glue_metrics("mnli", [0, 1, 2], [0, 2, 2])) == {"accuracy"}
    for spec in TASKS.values():
        assert spec.primary in spec.metrics


def test_bootstrap_interval_of_accuracy_agrees_with_the_normal_approximation():
    from minion_tf.metrics.intervals import bootstrap_interval
    from minion_tf.metrics.task_metrics import accuracy

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 4000)
    predictions = np.where(rng.random(4000) < 0.8, labels, 1 - labels)
    p = accuracy(predictions, labels)
    low, high = bootstrap_interval(accuracy, predictions, labels, draws=1000)
    half = 1.96 * np.sqrt(p * (1 - p) / 4000)  # the binomial interval, computed another way
    assert low < p < high
    assert abs((p - low) - half) < 0.2 * half and abs((high - p) - half) < 0.2 * half


def test_macro_recall_and_f1_by_hand():
    from minion_tf.metrics.task_metrics import macro_f1, macro_recall

    predictions, labels = np.array([0, 1, 2, 2, 1, 0]), np.array([0, 1, 1, 2, 2, 0])
    assert macro_recall(predictions, labels) == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert macro_f1(predictions, labels) == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert macro_recall(np.zeros(4, int), np.array([0, 0, 1, 2])) == pytest.approx(1 / 3)  # majority answer
