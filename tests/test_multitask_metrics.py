"""Task metrics against their formulas."""
import numpy as np
import pytest

from minion_tf.metrics.task_metrics import accuracy, overall_score, pearson_r


def test_accuracy():
    assert accuracy([1, 0, 2, 2], [1, 1, 2, 0]) == 0.5
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])


def test_pearson_matches_numpy_and_constant_is_nan():
    x, y = [1.0, 2.0, 3.0, 5.0], [2.0, 4.5, 5.0, 11.0]
    assert pearson_r(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert pearson_r(x, [-v for v in x]) == pytest.approx(-1.0)
    assert np.isnan(pearson_r([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


def test_overall_score():
    assert overall_score(0.5, 0.8, 0.6) == pytest.approx((0.5 + 0.8 + 0.8) / 3)
