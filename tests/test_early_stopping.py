"""Early stopping on the validation score (min delta, patience 2, best weights back) and its score/time log."""
import numpy as np
import tf_keras as keras

from minion_tf.metrics.task_metrics import f1
from minion_tf.training.early_stopping import ScoreTimeLogger, early_stopping


class _ScriptedScore(keras.callbacks.Callback):
    """Writes a fixed val_score sequence into logs and remembers the weights of every epoch."""

    def __init__(self, scores):
        super().__init__()
        self.scores, self.weights = scores, []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = self.scores[epoch]
        self.weights.append(self.model.get_weights())


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile(keras.optimizers.Adam(0.1), "sparse_categorical_crossentropy")
    return model


def test_stops_after_two_epochs_below_min_delta_and_restores_the_best():
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.array([0, 1] * 8)
    model = _model()
    scripted = _ScriptedScore([0.5, 0.6, 0.605, 0.59, 0.9, 0.9])   # 0.605 gains less than 0.01
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[scripted, early_stopping(min_delta=0.01)])
    assert len(history.epoch) == 4                                   # epochs 2 and 3 did not improve: stop
    for restored, best in zip(model.get_weights(), scripted.weights[1]):
        np.testing.assert_array_equal(restored, best)


def test_logger_records_the_task_score_and_time_per_epoch():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 3)), np.array([0, 1] * 8)
    model = _model()
    logger = ScoreTimeLogger("mrpc", x[:8], y[:8])
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[logger])
    assert [r["epoch"] for r in logger.history] == [0, 1, 2]
    last = logger.history[-1]
    expected = f1(model.predict(x[:8], verbose=0).argmax(axis=1), y[:8])
    assert last["val_score"] == last["val_f1"] == expected
    assert history.history["val_score"][-1] == expected and "val_accuracy" in history.history
    times = [r["elapsed_s"] for r in logger.history]
    assert times == sorted(times) and times[0] > 0
