"""Calibration metrics, reliability bins, temperature scaling, the reliability PNG and the monitor."""
import json
import math

import numpy as np
import pytest

from minion_tf.callbacks.calibration_monitor import CalibrationMonitor
from minion_tf.errors import MinionError
from minion_tf.metrics import (ace, apply_temperature, calibration_errors, ece, fit_temperature, mce, nll,
                               reliability_bins)
from minion_tf.metrics.reliability_plot import plot_reliability

BINARY_P = np.array([0.1, 0.2, 0.3, 0.6, 0.8, 0.9])
BINARY_Y = np.array([0, 1, 0, 1, 1, 1])


def test_binary_hand_computed():
    # Equal width, K=4: gaps .35 (2 samples), .3 (1), .4 (1), .15 (2).
    assert mce(BINARY_P, BINARY_Y, num_bins=4) == pytest.approx(0.4)
    assert ece(BINARY_P, BINARY_Y, num_bins=4) == pytest.approx(1.7 / 6)
    # Equal count, K=4, sizes 2, 2, 1, 1: gaps .35, .05, .2, .1.
    assert ace(BINARY_P, BINARY_Y, num_bins=4) == pytest.approx(0.175)


def test_multiclass_top_label_hand_computed():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
    labels = np.array([0, 0, 2, 2])
    errors = calibration_errors(probs, labels, num_bins=2)
    assert errors == pytest.approx({"ace": 0.125, "mce": 0.4, "ece": 0.125})
    one_hot = np.eye(3)[labels]
    assert calibration_errors(probs, one_hot, num_bins=2) == errors


def test_reliability_bins_hand_computed():
    width = reliability_bins(BINARY_P, BINARY_Y, num_bins=4)
    np.testing.assert_allclose(width["edges"], [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(width["count"], [2, 1, 1, 2])
    np.testing.assert_allclose(width["confidence"], [0.15, 0.3, 0.6, 0.85])
    np.testing.assert_allclose(width["accuracy"], [0.5, 0, 1, 1])
    count = reliability_bins(BINARY_P, BINARY_Y, num_bins=4, binning="count")
    np.testing.assert_allclose(count["edges"], [0.1, 0.3, 0.8, 0.9, 0.9])
    np.testing.assert_array_equal(count["count"], [2, 2, 1, 1])
    np.testing.assert_allclose(count["accuracy"], [0.5, 0.5, 1, 1])


def test_empty_bins_are_skipped_and_nan():
    bins = reliability_bins([0.05, 0.95], [0, 1], num_bins=4)
    assert np.isnan(bins["confidence"][1]) and np.isnan(bins["accuracy"][2])
    errors = calibration_errors([0.05, 0.95], [0, 1], num_bins=4)
    assert errors == pytest.approx({"ace": 0.05, "mce": 0.05, "ece": 0.05})
    few = reliability_bins([0.2, 0.4], [0, 1], num_bins=3, binning="count")
    np.testing.assert_array_equal(few["count"], [1, 1, 0])
    assert np.isnan(few["edges"][2]) and few["edges"][-1] == 0.4


def _brute_force(score, outcome, k):
    """Loop-based reference, written independently of the vectorised code."""
    n = len(score)
    width_bins = [[] for _ in range(k)]
    for s, o in zip(score, outcome):
        for b in range(k):
            if b / k <= s < (b + 1) / k or (b == k - 1 and s == 1.0):
                width_bins[b].append((s, o))
                break
    pairs = sorted(zip(score, outcome))
    count_bins, start = [], 0
    for b in range(k):
        size = n // k + (1 if b < n % k else 0)
        count_bins.append(pairs[start:start + size])
        start += size

    def gap(members):
        return abs(sum(o for _, o in members) / len(members) - sum(s for s, _ in members) / len(members))

    width_gaps = [(gap(m), len(m)) for m in width_bins if m]
    count_gaps = [gap(m) for m in count_bins if m]
    return {"ace": sum(count_gaps) / len(count_gaps), "mce": max(g for g, _ in width_gaps),
            "ece": sum(g * c for g, c in width_gaps) / n}


@pytest.mark.parametrize("n, k", [(1000, 20), (997, 20), (13, 20), (250, 7)])
def test_binary_matches_brute_force(n, k):
    rng = np.random.default_rng(n + k)
    p = rng.random(n)
    y = (rng.random(n) < p ** 1.5).astype(int)
    assert calibration_errors(p, y, k) == pytest.approx(_brute_force(p.tolist(), y.tolist(), k), rel=1e-12)


@pytest.mark.parametrize("n, classes", [(800, 5), (41, 3)])
def test_multiclass_matches_brute_force(n, classes):
    rng = np.random.default_rng(n)
    logits = rng.normal(size=(n, classes)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, classes, size=n)
    score = probs.max(axis=1)
    outcome = (probs.argmax(axis=1) == labels).astype(float)
    expected = _brute_force(score.tolist(), outcome.tolist(), 20)
    assert calibration_errors(probs, labels) == pytest.approx(expected, rel=1e-12)


def test_binary_shapes_agree_and_float16_is_accepted():
    rng = np.random.default_rng(0)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(int)
    reference = calibration_errors(p, y)
    assert calibration_errors(p[:, None], y[:, None]) == reference
    assert calibration_errors(np.stack([1 - p, p], axis=1), y) == pytest.approx(reference, rel=1e-12)
    half = p.astype(np.float16)
    assert calibration_errors(half, y) == calibration_errors(half.astype(np.float64), y)


@pytest.mark.parametrize("probs, labels, message", [
    ([0.2, 1.7], [0, 1], "within \\[0, 1\\]"),
    ([0.2, 0.7], [0, 1, 1], "2 predictions but 3 labels"),
    ([0.2, 0.7], [0, 2], "binary labels"),
    ([], [], "n > 0"),
])
def test_bad_inputs_raise_one_line_errors(probs, labels, message):
    with pytest.raises(MinionError, match=message):
        calibration_errors(probs, labels)


def test_bad_num_bins_and_binning():
    with pytest.raises(MinionError, match="num_bins"):
        ace([0.5], [1], num_bins=0)
    with pytest.raises(MinionError, match="binning"):
        reliability_bins([0.5], [1], binning="quantile")


def _overconfident(n, classes, temperature, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes)) * 1.5
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (rng.random((n, 1)) > np.cumsum(true, axis=1)).sum(axis=1)
    sharp = np.exp(logits * temperature)
    return sharp / sharp.sum(axis=1, keepdims=True), labels


def test_temperature_recovers_known_overconfidence_and_beats_a_grid():
    probs, labels = _overconfident(20000, 4, 2.5, seed=1)
    t = fit_temperature(probs, labels)
    assert t == pytest.approx(2.5, rel=0.05)
    def loss(temperature):
        return nll(apply_temperature(probs, temperature), labels)

    best_on_grid = min(loss(g) for g in np.exp(np.linspace(np.log(0.05), np.log(20), 41)))
    assert loss(t) <= best_on_grid and loss(t) <= min(loss(t * 1.001), loss(t / 1.001))
    scaled = apply_temperature(probs, t)
    np.testing.assert_array_equal(scaled.argmax(axis=1), probs.argmax(axis=1))
    assert ece(scaled, labels) < ece(probs, labels) / 3


def test_temperature_binary_forms_agree_and_one_is_identity():
    rng = np.random.default_rng(3)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    two = np.stack([1 - p, p], axis=1)
    assert fit_temperature(p, y) == pytest.approx(fit_temperature(two, y), rel=1e-9)
    np.testing.assert_allclose(apply_temperature(p, 1.7), apply_temperature(two, 1.7)[:, 1], rtol=1e-12)
    assert apply_temperature(p[:, None], 2.0).shape == (500, 1)
    np.testing.assert_allclose(apply_temperature(p, 1.0), p, atol=1e-12)
    with pytest.raises(MinionError, match="positive"):
        apply_temperature(p, 0.0)
    with pytest.raises(MinionError, match="class indices"):
        nll(p, np.full(500, 2))


def _png_pixels(path):
    import matplotlib.image

    return matplotlib.image.imread(path)


def test_reliability_plot_draws_several_models_with_the_diagonal(tmp_path):
    probs, labels = _overconfident(2000, 2, 3.0, seed=4)
    bins = reliability_bins(apply_temperature(probs, 3.0), labels)
    path = plot_reliability({"raw": (probs, labels), "scaled": bins}, tmp_path / "figs" / "rel.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["rel.png"]
    pixels = _png_pixels(path)
    empty = plot_reliability({"none": {"confidence": [np.nan], "accuracy": [np.nan]}}, tmp_path / "empty.png")
    drawn = np.abs(pixels[..., :3] - 1).sum()
    assert drawn > np.abs(_png_pixels(empty)[..., :3] - 1).sum()  # the two curves add ink to the diagonal
    with pytest.raises(MinionError, match="no curves"):
        plot_reliability({}, tmp_path / "x.png")


def test_monitor_scores_epochs_writes_json_and_fits_temperature(tmp_path):
    monitor = CalibrationMonitor(num_bins=10, out_dir=tmp_path)
    probs, labels = _overconfident(3000, 2, 3.0, seed=5)
    logs = monitor.score(0, probs, labels)
    assert logs == pytest.approx({f"val_{k}": v for k, v in calibration_errors(probs, labels, 10).items()})
    with pytest.warns(RuntimeWarning, match="epoch 1 has non-finite"):
        assert math.isnan(monitor.score(1, np.full((3000, 2), np.nan), labels)["val_mce"])
    monitor.score(2, probs, labels)
    saved = json.loads((tmp_path / "calibration_bins.json").read_text())
    assert [e["epoch"] for e in saved["epochs"]] == [0, 1, 2]
    assert saved["epochs"][1]["ace"] is None
    assert saved["epochs"][0]["bins"]["count"]["count"] == [300] * 10
    summary = monitor.finish()
    assert summary["temperature"] == pytest.approx(3.0, rel=0.15)
    assert summary["val_ece_scaled"] < summary["val_ece"] and summary["val_nll_scaled"] < summary["val_nll"]
    saved = json.loads((tmp_path / "calibration_bins.json").read_text())
    assert saved["summary"]["temperature"] == summary["temperature"]
    assert (tmp_path / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration_bins.json", "reliability.png"]
    monitor.reset()
    assert monitor.epochs == [] and monitor.summary == {} and monitor.finish() == {}

