"""Resume an interrupted fit at the last finished epoch: weights, optimizer state and history;
and keep, at every epoch end, what this process has cost so far (`LedgerCallback`, see `ledger`).

Example:
    >>> first_epoch, past = restore_progress(run_dir / "progress", {"model": side, "optimizer": opt})
    >>> model.fit(ds, initial_epoch=first_epoch, callbacks=[EpochCheckpoint(run_dir / "progress", {...}),
    ...                                                     LedgerCallback(run_dir, energy.sampler, start)])
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError
from minion_tf.io import disk_full, write_json
from minion_tf.runs import ledger


def restore_progress(directory: Path, trackables: dict) -> tuple[int, list[dict]]:
    """(first epoch to run, per-epoch logs so far); (0, []) when nothing was saved."""
    state = Path(directory) / "progress.json"
    if not state.is_file():
        return 0, []
    try:
        progress = json.loads(state.read_text())
        tf.train.Checkpoint(**trackables).read(str(Path(directory) / progress["checkpoint"])).expect_partial()
    except (json.JSONDecodeError, KeyError, tf.errors.OpError, ValueError) as err:
        raise MinionError(f"{state}: cannot resume ({type(err).__name__}); delete {directory} to start over") from None
    return int(progress["epoch"]), list(progress["history"])


def save_progress(directory: Path, trackables: dict, epoch: int, history: list[dict]) -> None:
    """Checkpoint `trackables` after `epoch` finished epochs, then (atomically) the progress record
    pointing at it; older checkpoints go. A full disk leaves the previous epoch's files and one line."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{epoch}"
    try:
        tf.train.Checkpoint(**trackables).write(str(directory / name))
    except tf.errors.ResourceExhaustedError:  # how TensorFlow's file system reports ENOSPC
        _remove(directory.glob(name + "[._]*"))  # the checkpoint's files and its `_temp` folder
        size = sum(v.shape.num_elements() * v.dtype.size for t in trackables.values()
                   for v in getattr(t, "variables", [t]))  # models and optimizers, or plain variables
        raise disk_full(directory / name, size) from None
    write_json(directory / "progress.json", {"epoch": epoch, "checkpoint": name, "history": history}, sort_keys=False)
    _remove(old for old in directory.glob("epoch-*") if not old.name.startswith(name + "."))


def _remove(paths) -> None:
    for path in list(paths):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


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

    @staticmethod
    def clear(directory) -> None:
        shutil.rmtree(directory, ignore_errors=True)


class LedgerCallback(keras.callbacks.Callback):
    """After each epoch, records in the run's `ledger` this process's `train_s` (since `fit` began),
    `total_s` (since `start`, a `time.perf_counter()` value) and the energy so far of `sampler`."""

    def __init__(self, run_dir: Path, sampler, start: float):
        super().__init__()
        self.run_dir, self.sampler, self.start = Path(run_dir), sampler, start

    def on_train_begin(self, logs=None):
        self._fit_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        ledger.record(self.run_dir, {"train_s": now - self._fit_start, "total_s": now - self.start},
                      self.sampler.so_far())
