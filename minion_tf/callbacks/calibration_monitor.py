"""Per-epoch calibration of validation predictions: errors, bins to JSON, temperature at the end.

Framework-free: `predict_probs` only calls `model.predict` / `model.predict_on_batch`, which
tf_keras and Keras 3 models share.
"""
import json
import math
import warnings
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.io import write_text
from minion_tf.metrics.calibration import calibration_errors, reliability_bins
from minion_tf.metrics.temperature import apply_temperature, fit_temperature, nll

JSON_NAME = "calibration_bins.json"
PNG_NAME = "reliability.png"


class CalibrationMonitor:
    """Scores each epoch's validation probabilities and keeps their reliability bins.

    `score` returns `val_ace`, `val_mce`, `val_ece` and, with `out_dir`, rewrites
    `out_dir/calibration_bins.json` (every epoch so far: errors plus equal-width and
    equal-count bins). `finish` fits a temperature on the last epoch's predictions and
    puts the errors and NLL before and after it in `summary` (`val_ace` ...,
    `temperature`, `val_ace_scaled` ...); with `out_dir` it also draws
    `out_dir/reliability.png` (before and after scaling). Fitting and scoring on the same
    validation data flatters the "after" figures: apply the temperature to test data with
    `minion_tf.metrics.apply_temperature` for an honest comparison.

    Example:
        >>> monitor = CalibrationMonitor(num_bins=20, out_dir="runs/x")
        >>> logs = monitor.score(0, model.predict(x_val), y_val)   # {"val_ace": ..., ...}
        >>> monitor.finish()["temperature"]
    """

    def __init__(self, num_bins: int = 20, out_dir=None):
        if not isinstance(num_bins, int) or isinstance(num_bins, bool) or num_bins < 1:
            raise MinionError(f"CalibrationMonitor.num_bins: must be a positive integer, got {num_bins!r}")
        self.num_bins = num_bins
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.reset()

    def reset(self) -> None:
        """Forget every epoch and the summary (start of a fit)."""
        self.epochs: list[dict] = []
        self.summary: dict = {}
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def score(self, epoch: int, probs, labels) -> dict:
        """Errors of one epoch as `{"val_ace", "val_mce", "val_ece"}`; bins kept and written.

        Non-finite predictions (a diverged model) give NaN errors and a warning, not an error.
        """
        if not np.all(np.isfinite(np.asarray(probs, dtype=np.float64))):
            warnings.warn(f"CalibrationMonitor: epoch {epoch} has non-finite predictions; its errors are NaN",
                          RuntimeWarning, stacklevel=2)
            self.epochs.append({"epoch": int(epoch), "ace": math.nan, "mce": math.nan, "ece": math.nan})
            self._last = None
            self._write_json()
            return {"val_ace": math.nan, "val_mce": math.nan, "val_ece": math.nan}
        errors = calibration_errors(probs, labels, self.num_bins)
        self.epochs.append({
            "epoch": int(epoch),
            **errors,
            "bins": {binning: {key: value.tolist() for key, value in
                               reliability_bins(probs, labels, self.num_bins, binning).items()}
                     for binning in ("width", "count")},
        })
        self._last = (np.asarray(probs), np.asarray(labels))
        self._write_json()
        return {f"val_{name}": value for name, value in errors.items()}

    def finish(self) -> dict:
        """Fit the temperature on the last epoch; fill, write and return `summary` (empty if it was NaN)."""
        if self._last is None:
            return self.summary
        probs, labels = self._last
        temperature = fit_temperature(probs, labels)
        scaled = apply_temperature(probs, temperature)
        summary = {f"val_{k}": self.epochs[-1][k] for k in ("ace", "mce", "ece")}
        summary["val_nll"] = nll(probs, labels)
        summary["temperature"] = temperature
        summary.update({f"val_{k}_scaled": v for k, v in calibration_errors(scaled, labels, self.num_bins).items()})
        summary["val_nll_scaled"] = nll(scaled, labels)
        self.summary = summary
        self._write_json()
        if self.out_dir is not None:
            from minion_tf.metrics.reliability_plot import plot_reliability

            epoch = self.epochs[-1]["epoch"]
            plot_reliability({f"epoch {epoch}": (probs, labels),
                              f"temperature-scaled (T = {temperature:.2f})": (scaled, labels)},
                             self.out_dir / PNG_NAME, num_bins=self.num_bins)
        return summary

    def _write_json(self) -> None:
        if self.out_dir is None:
            return
        payload = {"num_bins": self.num_bins, "epochs": self.epochs, "summary": self.summary}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_text(self.out_dir / JSON_NAME, json.dumps(_finite_or_none(payload), indent=1))


def predict_probs(model, data, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and labels as numpy arrays for `(x, y)` or an iterable of `(x, y, ...)` batches,
    or what `data()` returns when it is a function (predictions another callback made this epoch).

    Example:
        >>> probs, labels = predict_probs(model, val_dataset)   # tf.data yielding (x, y)
    """
    if callable(data):
        probs, labels = data()
        return np.asarray(probs), np.asarray(labels)
    if isinstance(data, tuple):
        if len(data) != 2:
            raise MinionError(f"calibration data: expected (x, y) or batches of (x, y), got a tuple of {len(data)}")
        x, y = data
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0)), np.asarray(y)
    probs, labels = [], []
    for batch in data:
        probs.append(np.asarray(model.predict_on_batch(batch[0])))
        labels.append(np.asarray(batch[1]))
    if not probs:
        raise MinionError("calibration data: the validation dataset yielded no batch")
    return np.concatenate(probs), np.concatenate(labels)


def _finite_or_none(value):
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
