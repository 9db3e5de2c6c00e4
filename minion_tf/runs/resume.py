"""Resume an interrupted fit at the last finished epoch: weights, optimizer state and history.

Example:
    >>> first_epoch, past = restore_progress(run_dir / "progress", {"model": side, "optimizer": opt})
    >>> model.fit(ds, initial_epoch=first_epoch, callbacks=[EpochCheckpoint(run_dir / "progress", {...})])
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError


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


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves `trackables` after each epoch, then (atomically) the epoch count and logs that point at them."""

    def __init__(self, directory, trackables: dict, history: list[dict] | None = None):
        super().__init__()
        self.directory = Path(directory)
        self.trackables = trackables
        self.history = list(history or [])

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1}"
        tf.train.Checkpoint(**self.trackables).write(str(self.directory / name))
        self.history.append({k: float(v) for k, v in (logs or {}).items()})
        state = {"epoch": epoch + 1, "checkpoint": name, "history": self.history}
        tmp = self.directory / "progress.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.directory / "progress.json")
        for old in self.directory.glob("epoch-*"):
            if not old.name.startswith(name + "."):
                old.unlink()

    @staticmethod
    def clear(directory) -> None:
        shutil.rmtree(directory, ignore_errors=True)
