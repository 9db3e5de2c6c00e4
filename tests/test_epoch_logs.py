"""history.csv has Keras' CSVLogger layout; TensorBoard events hold every epoch once, also after a resume."""
import csv

import numpy as np
import pytest

from minion_tf.runs.epoch_logs import EpochLogs, history_csv


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_history_csv_matches_what_csvlogger_writes_for_the_same_fit(tmp_path):
    import tf_keras as keras

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)).astype("float32"), rng.integers(0, 2, 32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seen = []
    keep = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
    model.fit(x, y, validation_data=(x, y), epochs=3, verbose=0,
              callbacks=[keep, keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"))])
    (tmp_path / "ours.csv").write_text(history_csv(seen))
    theirs, ours = read_csv(tmp_path / "keras.csv"), read_csv(tmp_path / "ours.csv")
    assert ours[0] == theirs[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    np.testing.assert_allclose(np.array(ours[1:], float), np.array(theirs[1:], float), rtol=1e-6)


def test_nested_entries_are_flattened_and_missing_values_left_empty():
    text = history_csv([{"stage": "joint", "dev": {"sst": 0.5}, "energy": {"kwh": None}}, {"dev": {"sts": 0.1}}])
    assert text.splitlines() == ["epoch,dev_sst,dev_sts,energy_kwh,stage", "0,0.5,,,joint", "1,,0.1,,"]


def scalars(folder):
    import tensorflow as tf

    out = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return out


def test_tensorboard_events_are_laid_out_as_keras_does_and_rewritten_whole(tmp_path):
    logs = EpochLogs(tmp_path, tensorboard=True)
    history = [{"loss": 0.7, "val_accuracy": 0.5, "val_ace": 0.1, "energy_kwh": float("nan")}]
    logs.write(history)
    logs.write(history + [{"loss": 0.6, "val_accuracy": 0.6, "val_ace": 0.05, "energy_kwh": float("nan")}])
    train, val = scalars(tmp_path / "tensorboard" / "train"), scalars(tmp_path / "tensorboard" / "validation")
    assert train == {"epoch_loss": [(0, pytest.approx(0.7)), (1, pytest.approx(0.6))]}  # NaN energy skipped
    assert val["epoch_ace"] == [(0, pytest.approx(0.1)), (1, pytest.approx(0.05))]
    assert len(read_csv(tmp_path / "history.csv")) == 3
