"""Early stopping on the validation score (min delta, patience 2, best weights back, resumable) and its log."""
import numpy as np
import pytest
import tf_keras as keras

from minion_tf.metrics.task_metrics import f1
from minion_tf.training.early_stopping import BestEpochStopping, ScoreTimeLogger


class _ScriptedScore(keras.callbacks.Callback):
    """Writes a fixed val_score sequence into logs and remembers the weights of every epoch."""

    def __init__(self, scores, first=0):
        super().__init__()
        self.scores, self.first, self.weights = scores, first, {}

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = self.scores[epoch]
        self.weights[epoch] = self.model.get_weights()


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile(keras.optimizers.Adam(0.1), "sparse_categorical_crossentropy")
    return model


def _data():
    return np.random.default_rng(0).normal(size=(16, 3)), np.array([0, 1] * 8)


def test_stops_after_two_epochs_below_min_delta_and_restores_the_best(tmp_path):
    x, y = _data()
    model = _model()
    scripted = _ScriptedScore([0.5, 0.6, 0.605, 0.59, 0.9, 0.9])   # 0.605 gains less than 0.01
    stopper = BestEpochStopping(model, tmp_path / "best.weights.h5", patience=2, min_delta=0.01)
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[scripted, stopper])
    assert len(history.epoch) == 4 and stopper.done                  # epochs 2 and 3 did not improve: stop
    stopper.restore()
    assert stopper.best_epoch == 1 and stopper.best == 0.6
    for restored, best in zip(model.get_weights(), scripted.weights[1]):
        np.testing.assert_array_equal(restored, best)
    assert [p.name for p in tmp_path.iterdir()] == ["best.weights.h5"]  # no temporary file left


def test_a_resumed_stopper_continues_the_count_and_the_best_file(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "best.weights.h5"
    first = BestEpochStopping(model, path, patience=2, min_delta=0.01)
    scripted = _ScriptedScore([0.5, 0.6, 0.605, 0.59])
    model.fit(x, y, epochs=3, verbose=0, callbacks=[scripted, first])     # "killed" after epoch 3
    past = [{"val_score": s} for s in (0.5, 0.6, 0.605)]
    resumed = BestEpochStopping(model, path, patience=2, min_delta=0.01, past=past)
    assert (resumed.best_epoch, resumed.wait, resumed.done) == (1, 1, False)
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0, callbacks=[scripted, resumed])
    assert history.epoch == [3] and resumed.done                          # one more epoch without gain: stop
    resumed.restore()
    for restored, best in zip(model.get_weights(), scripted.weights[1]):
        np.testing.assert_array_equal(restored, best)
    assert BestEpochStopping(model, path, patience=2, min_delta=0.01, past=past + [{"val_score": 0.59}]).done


def test_patience_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="patience"):
        BestEpochStopping(_model(), tmp_path / "b.weights.h5", patience=0)


def test_logger_records_the_task_score_and_time_per_epoch():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 3)), np.array([0, 1] * 8)
    model = _model()
    logger = ScoreTimeLogger("mrpc", (x[:8], y[:8]), past=[{"elapsed_s": 100.0}])
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[logger])
    assert [r["epoch"] for r in logger.history] == [0, 1, 2]
    last = logger.history[-1]
    expected = f1(model.predict(x[:8], verbose=0).argmax(axis=1), y[:8])
    assert last["val_score"] == last["val_f1"] == expected
    assert history.history["val_score"][-1] == expected and "val_accuracy" in history.history
    times = [r["elapsed_s"] for r in logger.history]
    assert times == sorted(times) and times[0] > 100.0                    # the clock continues after a resume
    assert all(0 < r["epoch_s"] <= r["elapsed_s"] - 100.0 + 1e-9 for r in logger.history)


@pytest.mark.parametrize("task", ["mrpc", "stsb"])
def test_the_logged_val_loss_is_the_one_keras_evaluates_and_the_predictions_are_shared(task):
    """Batches predicted by `forward` (the runner's one trace), val_loss as Keras' own loss: no
    `validation_data` pass needed; a later callback reads the same predictions."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    if task == "stsb":
        y = rng.uniform(0, 5, size=20).astype("float32")
        model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
        model.compile(keras.optimizers.Adam(0.1), "mse")
    else:
        y = np.array([0, 1] * 10)
        model = _model()
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)  # a short last batch
    calls = []

    def forward(batch):
        calls.append(len(batch))
        return model(batch, training=False)

    logger = ScoreTimeLogger(task, val, forward=forward)
    with pytest.raises(ValueError, match="no epoch has ended yet"):
        logger.last_predictions()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[logger])
    assert calls == [6, 6, 6, 2] * 2
    np.testing.assert_allclose(logger.history[-1]["val_loss"], model.evaluate(x, y, verbose=0), rtol=1e-5)
    predictions, labels = logger.last_predictions()
    np.testing.assert_allclose(predictions, model.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_array_equal(labels, y)
