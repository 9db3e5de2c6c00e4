"""Temperature scaling (Guo et al., 2017) of predicted probabilities, in numpy.

One scalar T > 0 divides the logits: p' = softmax(log p / T) (binary sigmoid outputs:
p' = sigmoid(logit(p) / T)). T is fitted on validation data by minimising the negative
log-likelihood; T > 1 softens over-confident predictions. The NLL is convex in 1/T, so a
golden-section search over log T finds the minimum; it is clipped to `bounds`. Accuracy is
unchanged: the argmax does not move. Shapes and labels are as in `calibration`.

Example:
    >>> import numpy as np
    >>> p, y = np.array([0.99, 0.98, 0.02, 0.97]), np.array([1, 0, 0, 1])
    >>> t = fit_temperature(p, y)
    >>> bool(t > 1 and nll(apply_temperature(p, t), y) < nll(p, y))
    True
"""
import math

import numpy as np

from minion_tf.errors import MinionError

_EPS = 1e-12
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def fit_temperature(probs, labels, *, bounds: tuple[float, float] = (0.05, 20.0), tol: float = 1e-6) -> float:
    """The temperature in `bounds` that minimises the NLL of `labels` under `probs`."""
    low, high = bounds
    if not 0 < low < high:
        raise MinionError(f"temperature: bounds must satisfy 0 < low < high, got {bounds}")
    log_probs = _log_probs(probs)
    index = _label_index(labels, log_probs.shape)

    def loss(log_t: float) -> float:
        return _nll(log_probs / math.exp(log_t), index)

    a, b = math.log(low), math.log(high)
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = loss(d)
    return float(math.exp((a + b) / 2.0))


def apply_temperature(probs, temperature: float) -> np.ndarray:
    """`probs` rescaled by `temperature`, same shape, float64."""
    if not temperature > 0:
        raise MinionError(f"temperature: must be positive, got {temperature}")
    p = np.asarray(probs, dtype=np.float64)
    scaled = _softmax(_log_probs(p) / temperature)
    return scaled[:, 1].reshape(p.shape) if _is_binary_column(p) else scaled


def nll(probs, labels) -> float:
    """Mean negative log-likelihood of `labels` (probabilities clipped at 1e-12)."""
    log_probs = _log_probs(probs)
    return _nll(log_probs, _label_index(labels, log_probs.shape))


def _is_binary_column(p: np.ndarray) -> bool:
    return p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1)


def _log_probs(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim not in (1, 2) or p.shape[0] == 0:
        raise MinionError(f"temperature: probs must have shape (n,), (n, 1) or (n, C) with n > 0, got {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < -1e-6 or p.max() > 1 + 1e-6:
        raise MinionError("temperature: probs must be finite and within [0, 1] (pass probabilities, not logits)")
    if _is_binary_column(p):
        q = p.reshape(-1)
        p = np.stack([1.0 - q, q], axis=1)
    return np.log(np.clip(p, _EPS, 1.0))


def _label_index(labels, shape: tuple[int, int]) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    n, classes = shape
    if y.shape[0] != n:
        raise MinionError(f"temperature: {n} predictions but {y.shape[0]} labels")
    index = y.astype(np.int64)
    if not np.array_equal(index, y) or index.min() < 0 or index.max() >= classes:
        raise MinionError(f"temperature: labels must be class indices in [0, {classes})")
    return index


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _nll(logits: np.ndarray, index: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(index.size), index]))
