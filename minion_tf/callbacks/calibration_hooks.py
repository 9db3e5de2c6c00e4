"""Keras callback methods for calibration monitoring, free of any framework (see keras2 / keras3)."""
from minion_tf.callbacks.calibration_monitor import CalibrationMonitor, predict_probs


class CalibrationHooks:
    """Mixin that scores the validation data at each epoch's end; put it before a Callback base.

    `validation_data` is `(x, y)`, an iterable of `(x, y)` batches (e.g. a tf.data dataset), or
    a function that returns this epoch's `(probs, labels)` (when an earlier callback has predicted them);
    predictions are softmax `(n, C)` (binary: C = 2, P(class 1) is scored) or sigmoid `(n,)` /
    `(n, 1)`. Adds `val_ace`, `val_mce`, `val_ece` to `logs` (place it before CSVLogger);
    at the end of `fit`, `summary` has them with the temperature-scaled figures. With
    `out_dir`, writes `calibration_bins.json` every epoch and `reliability.png` at the end.

    Example:
        >>> calibration = CalibrationCallback((x_val, y_val), out_dir="runs/x")
        >>> model.fit(x, y, epochs=5, callbacks=[calibration])
        >>> calibration.summary["val_ace"], calibration.summary["temperature"]
    """

    def __init__(self, validation_data, *, num_bins: int = 20, out_dir=None, batch_size: int = 256):
        super().__init__()
        self.calibration_data = validation_data
        self.batch_size = batch_size
        self.monitor = CalibrationMonitor(num_bins, out_dir)

    @property
    def summary(self) -> dict:
        return self.monitor.summary

    def on_train_begin(self, logs=None):
        self.monitor.reset()

    def on_epoch_end(self, epoch, logs=None):
        probs, labels = predict_probs(self.model, self.calibration_data, self.batch_size)
        scores = self.monitor.score(epoch, probs, labels)
        if logs is not None:
            logs.update(scores)

    def on_train_end(self, logs=None):
        self.monitor.finish()
