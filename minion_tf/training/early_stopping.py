"""The Pittsburgh protocol's stopping rule and its per-epoch record of score against time.

`early_stopping` is tf_keras' own `EarlyStopping`, configured: stop when the monitored validation
score has not improved by at least `min_delta` for `patience` (2) consecutive epochs, and restore
the weights of the best epoch (tf_keras restores them at the end of training whether or not it
stopped early). `ScoreTimeLogger` puts that score into `logs` each epoch, so it must come
before the early stopping (and any CSV/JSON logger) in the callback list.

Example:
    >>> logger = ScoreTimeLogger("cola", x_val, y_val)
    >>> model.fit(x, y, epochs=10, callbacks=[logger, early_stopping(min_delta=1e-3)])
    >>> logger.history[-1]      # {"epoch": 3, "val_score": 0.41, "val_matthews_corrcoef": 0.41, ..., "elapsed_s": 52.1}
"""
from __future__ import annotations

import time

import tf_keras as keras

from minion_tf.metrics.task_metrics import glue_metrics, primary_score


def early_stopping(min_delta: float = 0.0, patience: int = 2, monitor: str = "val_score") -> keras.callbacks.EarlyStopping:
    """Stop after `patience` epochs without a gain of `min_delta` in `monitor` (higher is better); keep the best."""
    return keras.callbacks.EarlyStopping(monitor=monitor, min_delta=min_delta, patience=patience, mode="max",
                                         restore_best_weights=True)


class ScoreTimeLogger(keras.callbacks.Callback):
    """Each epoch: the task's validation metrics (`val_<metric>`), its primary `val_score`, and
    `elapsed_s` since training began, added to `logs` and kept in `history` (one dict per epoch).
    """

    def __init__(self, task, x_val, y_val, batch_size: int = 64):
        super().__init__()
        self.task, self.x_val, self.y_val, self.batch_size = task, x_val, y_val, batch_size
        self.history: list[dict] = []
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self.history = []
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        predictions = self.model.predict(self.x_val, batch_size=self.batch_size, verbose=0)
        metrics = glue_metrics(self.task, predictions, self.y_val)
        record = {f"val_{name}": value for name, value in metrics.items()}
        record["val_score"] = primary_score(self.task, metrics)
        record["elapsed_s"] = time.perf_counter() - self._start
        logs.update(record)
        self.history.append({"epoch": epoch, **record})
