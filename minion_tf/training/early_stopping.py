"""The Pittsburgh protocol's stopping rule and its per-epoch record of score against time.

`ScoreTimeLogger` puts the task's validation metrics, its primary `val_score`, the epoch's
seconds and the seconds since training began into `logs` each epoch; `BestEpochStopping`
stops when `val_score` has not improved by at least `min_delta` for `patience` consecutive
epochs, keeps the best epoch's weights in a file and loads them back at the end. Both resume:
given the logs of the epochs already run, they continue the clock and the count. Put the
logger before the stopper (and any CSV/JSON logger) in the callback list.

Example:
    >>> logger = ScoreTimeLogger("cola", val_dataset)
    >>> stopper = BestEpochStopping(model, "run/best.weights.h5", patience=2, min_delta=1e-3)
    >>> model.fit(train, epochs=10, callbacks=[logger, stopper])
    >>> stopper.best_epoch, logger.history[-1]["val_score"]
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import tf_keras as keras

from minion_tf.callbacks.calibration_monitor import predict_probs
from minion_tf.errors import MinionError
from minion_tf.io import temporary_path
from minion_tf.metrics.task_metrics import glue_metrics, primary_score
from minion_tf.metrics.temperature import nll


class ScoreTimeLogger(keras.callbacks.Callback):
    """Each epoch: `val_<metric>` of `task` (a name or `TaskSpec`), `val_score`, `val_loss`, `epoch_s`, `elapsed_s`.

    `validation_data` is `(x, y)` or an iterable of `(x, y)` batches; `past` are the logs of
    epochs run before a resume (their last `elapsed_s` continues the clock). With `forward` (a
    function of a batch's x, e.g. `models.predicting.forward_pass(model)`), the batches are
    predicted with it, so the run's other predictions can share its trace. `val_loss` is the
    mean NLL (MSE for a regression task) of these predictions: `fit` needs no `validation_data`
    of its own. `last_predictions()` gives the epoch's `(predictions, labels)`, for a later
    callback to score without predicting again.
    """

    def __init__(self, task, validation_data, past: list[dict] | None = None, batch_size: int = 256, forward=None):
        super().__init__()
        self.task, self.validation_data, self.batch_size, self.forward = task, validation_data, batch_size, forward
        self.past = list(past or [])
        self.history: list[dict] = []
        self._predictions = None

    def last_predictions(self):
        """The `(predictions, labels)` of the validation data at the last epoch's end."""
        if self._predictions is None:
            raise MinionError("ScoreTimeLogger: no epoch has ended yet (put it before the callbacks that read it)")
        return self._predictions

    def on_train_begin(self, logs=None):
        self.history = []
        self._offset = self.past[-1].get("elapsed_s", 0.0) if self.past else 0.0
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        predictions, labels = self._predictions = self._predict()
        metrics = glue_metrics(self.task, predictions, labels)
        record = {f"val_{name}": value for name, value in metrics.items()}
        record["val_score"] = primary_score(self.task, metrics)
        record["val_loss"] = _loss(self.task, predictions, labels)
        record["epoch_s"] = time.perf_counter() - self._epoch_start
        record["elapsed_s"] = self._offset + time.perf_counter() - self._start
        logs.update(record)
        self.history.append({"epoch": epoch, **record})

    def _predict(self):
        if self.forward is None or isinstance(self.validation_data, tuple):
            return predict_probs(self.model, self.validation_data, self.batch_size)
        batches = [(np.asarray(self.forward(batch[0])), np.asarray(batch[1])) for batch in self.validation_data]
        if not batches:
            raise MinionError("ScoreTimeLogger: the validation dataset yielded no batch")
        return tuple(np.concatenate(parts) for parts in zip(*batches))


def _loss(task, predictions, labels) -> float:
    """The task's loss on validation predictions: mean NLL, or MSE for regression; NaN if they are not finite."""
    from minion_tf.data.glue import get_task

    spec = get_task(task) if isinstance(task, str) else task
    predictions = np.asarray(predictions, dtype=np.float64)
    if not np.all(np.isfinite(predictions)):
        return math.nan
    if spec.is_regression:
        return float(np.mean((predictions.reshape(-1) - np.asarray(labels, dtype=np.float64).reshape(-1)) ** 2))
    return nll(predictions, labels)


class BestEpochStopping(keras.callbacks.Callback):
    """Stop after `patience` epochs without a gain of `min_delta` in `val_score`; end on the best weights.

    The best epoch's weights of `model` (the part that trains) are written to `path` (to a
    temporary name, then renamed) and loaded back when training ends. `past` are the logs of
    epochs run before a resume: the best score and the count of epochs without gain continue
    from them (`done` says whether the rule had already stopped the run).
    """

    def __init__(self, model, path, patience: int = 2, min_delta: float = 0.0, past: list[dict] | None = None):
        super().__init__()
        if patience < 1:
            raise MinionError(f"BestEpochStopping: patience must be >= 1, got {patience}")
        self.target, self.path, self.patience, self.min_delta = model, Path(path), patience, min_delta
        self.best, self.best_epoch, self.wait = None, None, 0
        for epoch, logs in enumerate(past or []):
            self._update(epoch, logs["val_score"])

    @property
    def done(self) -> bool:
        return self.wait >= self.patience

    def _update(self, epoch: int, score: float) -> bool:
        if self.best is None or score >= self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = score, epoch, 0
            return True
        self.wait += 1
        return False

    def on_epoch_end(self, epoch, logs=None):
        if self._update(epoch, float(logs["val_score"])):
            with temporary_path(self.path) as tmp:  # keeps the .weights.h5 suffix: same format
                self.target.save_weights(str(tmp))
        if self.done:
            self.model.stop_training = True

    def restore(self) -> None:
        """Load the best epoch's weights (after `fit`, also when it ran no epoch because `done`)."""
        if self.path.is_file():
            self.target.load_weights(str(self.path))
