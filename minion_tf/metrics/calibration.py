"""Calibration errors (ACE, MCE, ECE) and reliability bins, in numpy.

What is scored depends on the shape of `probs`:
- binary, as in the MINION paper: `(n,)` or `(n, 1)` sigmoid outputs, or `(n, 2)` softmax
  outputs of which column 1 is used. The score is P(positive) and the "accuracy" of a bin
  is its fraction of positives (labels 0/1), so a reliability curve is confidence vs.
  fraction positive;
- multi-class, `(n, C)` with C > 2: top-label confidence `max_c p_c`, and a bin's accuracy
  is the share of its samples whose argmax equals the label.
Labels are class indices, `(n,)` or `(n, 1)`, or one-hot `(n, C)`. Errors are fractions in
[0, 1]; the paper reports them x100.

- ACE is the *adaptive* calibration error of Nixon et al. (2019), "Measuring Calibration
  in Deep Learning": equal-count (equal-mass) bins, the unweighted mean over bins of
  |accuracy - confidence|. Here it is applied to the one score above, not averaged over
  classes. netcal's `ACE` is a different metric (the *average* calibration error: equal-
  width bins, unweighted mean), so numbers from the two do not compare.
- MCE (Guo et al., 2017) is the largest |accuracy - confidence| over non-empty
  equal-width bins; ECE is the count-weighted mean of the same gaps.

Equal-width bins are [k/K, (k+1)/K), the last one closed at 1. Equal-count bins split the
samples sorted by score (stable sort) into K runs whose sizes differ by at most one, the
larger ones first (`numpy.array_split`); when n < K the last bins are empty. Empty bins are
skipped by all three errors.

Example:
    >>> import numpy as np
    >>> p, y = np.array([0.1, 0.4, 0.8, 0.9]), np.array([0, 1, 1, 1])
    >>> round(mce(p, y, num_bins=2), 3)
    0.25
"""
import numpy as np

from minion_tf.errors import MinionError

BINNINGS = ("width", "count")


def ace(probs, labels, num_bins: int = 20) -> float:
    """Adaptive calibration error: mean |accuracy - confidence| over equal-count bins."""
    return calibration_errors(probs, labels, num_bins)["ace"]


def mce(probs, labels, num_bins: int = 20) -> float:
    """Maximum calibration error: max |accuracy - confidence| over equal-width bins."""
    return calibration_errors(probs, labels, num_bins)["mce"]


def ece(probs, labels, num_bins: int = 20) -> float:
    """Expected calibration error: count-weighted mean |accuracy - confidence|, equal-width bins."""
    return calibration_errors(probs, labels, num_bins)["ece"]


def calibration_errors(probs, labels, num_bins: int = 20) -> dict:
    """The three errors from one pass over the data: `{"ace": .., "mce": .., "ece": ..}`.

    Example:
        >>> calibration_errors([0.2, 0.7], [0, 1], num_bins=2)["ece"]
        0.25
    """
    score, outcome = _score_and_outcome(probs, labels)
    width = _bins(score, outcome, num_bins, "width")
    count = _bins(score, outcome, num_bins, "count")
    width_gap = _gaps(width)
    count_gap = _gaps(count)
    return {
        "ace": float(count_gap.mean()),
        "mce": float(width_gap.max()),
        "ece": float((width_gap * width["count"][width["count"] > 0]).sum() / score.size),
    }


def reliability_bins(probs, labels, num_bins: int = 20, binning: str = "width") -> dict:
    """Per-bin figures for a reliability diagram, as numpy arrays of length K (edges K + 1).

    Keys: `edges`, `confidence` (mean score), `accuracy` (fraction positive for binary),
    `count`. Empty bins have NaN confidence and accuracy. With `binning="count"` the edges
    are each bin's smallest score followed by the largest score overall (NaN for empty bins).

    Example:
        >>> reliability_bins([0.2, 0.7], [0, 1], num_bins=2)["accuracy"]
        array([0., 1.])
    """
    score, outcome = _score_and_outcome(probs, labels)
    return _bins(score, outcome, num_bins, binning)


def _score_and_outcome(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    if p.ndim == 2 and p.shape[1] <= 2:
        p = p[:, -1]
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if p.ndim not in (1, 2) or p.shape[0] == 0:
        raise MinionError(f"calibration: probs must have shape (n,), (n, 1) or (n, C) with n > 0, got {p.shape}")
    if y.shape[0] != p.shape[0]:
        raise MinionError(f"calibration: {p.shape[0]} predictions but {y.shape[0]} labels")
    if not np.all(np.isfinite(p)) or p.min() < -1e-6 or p.max() > 1 + 1e-6:
        raise MinionError("calibration: probs must be finite and within [0, 1] (pass probabilities, not logits)")
    p = np.clip(p, 0.0, 1.0)
    if p.ndim == 1:
        if not np.all(np.isin(y, (0, 1))):
            raise MinionError("calibration: binary labels must be 0 or 1")
        return p, y.astype(np.float64)
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def _bins(score: np.ndarray, outcome: np.ndarray, num_bins: int, binning: str) -> dict:
    if not isinstance(num_bins, (int, np.integer)) or isinstance(num_bins, bool) or num_bins < 1:
        raise MinionError(f"calibration: num_bins must be a positive integer, got {num_bins!r}")
    if binning not in BINNINGS:
        raise MinionError(f"calibration: binning must be one of {BINNINGS}, got {binning!r}")
    n = score.size
    if binning == "width":
        edges = np.linspace(0.0, 1.0, num_bins + 1)
        index = np.searchsorted(edges[1:-1], score, side="right")
    else:
        sizes = np.full(num_bins, n // num_bins)
        sizes[: n % num_bins] += 1
        order = np.argsort(score, kind="stable")
        index = np.empty(n, dtype=np.int64)
        index[order] = np.repeat(np.arange(num_bins), sizes)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        sorted_score = score[order]
        lower = np.where(sizes > 0, sorted_score[np.minimum(starts, n - 1)], np.nan)
        edges = np.append(lower, sorted_score[-1])
    count = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=score, minlength=num_bins) / count
        accuracy = np.bincount(index, weights=outcome, minlength=num_bins) / count
    return {"edges": edges, "confidence": confidence, "accuracy": accuracy, "count": count}


def _gaps(bins: dict) -> np.ndarray:
    filled = bins["count"] > 0
    return np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
