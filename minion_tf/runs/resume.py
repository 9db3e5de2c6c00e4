"""Resume an interrupted fit at the last finished epoch: weights, optimizer state and history
(saved and restored by `minion_tf.checkpoints`); and keep, at every epoch end, what this process
has cost so far (`LedgerCallback`, see `ledger`).

Example:
    >>> first_epoch, past = restore_progress(  # minion_tf.checkpoints
    ...     run_dir / "progress", {"model": side, "optimizer": opt})
    >>> model.fit(ds, initial_epoch=first_epoch, callbacks=[EpochCheckpoint(run_dir / "progress", {...}),
    ...                                                     LedgerCallback(run_dir, energy.sampler, start)])
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import tf_keras as keras

from minion_tf.checkpoints import save_progress
from minion_tf.runs import ledger
from minion_tf.runs.epoch_logs import EpochLogs


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves `trackables` after each epoch, then (atomically) the epoch count and logs that point at them."""

    def __init__(self, directory, trackables: dict, history: list[dict] | None = None):
        super().__init__()
        self.directory = Path(directory)
        self.trackables = trackables
        self.history = list(history or [])

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({k: float(v) for k, v in (logs or {}).items()})
        save_progress(self.directory, self.trackables, epoch + 1, self.history)


class EpochLogsCallback(keras.callbacks.Callback):
    """After each epoch, rewrites the run's history.csv (and TensorBoard events) with every epoch so far:
    those of earlier processes (from `progress/progress.json`) and this one's logs."""

    def __init__(self, run_dir: Path, tensorboard: bool = False):
        super().__init__()
        self.run_dir, self.logs = Path(run_dir), EpochLogs(run_dir, tensorboard)

    def on_train_begin(self, logs=None):
        state = self.run_dir / "progress" / "progress.json"
        self.history = list(json.loads(state.read_text())["history"]) if state.is_file() else []

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({k: _plain(v) for k, v in (logs or {}).items()})
        self.logs.write(self.history)


def _plain(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value  # a stage name, a dict of per-task figures


class LedgerCallback(keras.callbacks.Callback):
    """After each epoch, records in the run's `ledger` this process's `train_s` (since `fit` began),
    `total_s` (since `start`, a `time.perf_counter()` value) and the energy so far of `sampler`.

    A method that drives the callbacks by hand may pass the seconds of the stages it did before
    training in `on_train_begin`'s logs (``{"load_s": 3.2}``): they are recorded at once, so they
    count even if the process dies before its first epoch ends. Keras passes no logs there."""

    def __init__(self, run_dir: Path, sampler, start: float):
        super().__init__()
        self.run_dir, self.sampler, self.start = Path(run_dir), sampler, start

    def on_train_begin(self, logs=None):
        self._fit_start = time.perf_counter()
        if logs:
            ledger.record(self.run_dir, {name: float(seconds) for name, seconds in logs.items()})

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        ledger.record(self.run_dir, {"train_s": now - self._fit_start, "total_s": now - self.start},
                      self.sampler.so_far())
