"""Epoch checkpoints of a fit: save after every finished epoch, restore to resume after the last one.

A folder holds the last epoch's `tf.train.Checkpoint` of some trackables (a model, its optimizer,
plain variables) and `progress.json` pointing at it with the epoch count and the per-epoch logs so
far. The runner's Keras loop (`runs.resume.EpochCheckpoint`) and methods that train outside Keras
(`methods.multitask`) both use it.

Example:
    >>> first_epoch, history = restore_progress(run_dir / "progress", {"model": model, "optimizer": opt})
    >>> save_progress(run_dir / "progress", {"model": model, "optimizer": opt}, first_epoch + 1, history)
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import tensorflow as tf

from minion_tf.errors import MinionError
from minion_tf.io import disk_full, write_json


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
        remove(directory.glob(name + "[._]*"))  # the checkpoint's files and its `_temp` folder
        size = sum(v.shape.num_elements() * v.dtype.size for t in trackables.values()
                   for v in getattr(t, "variables", [t]))  # models and optimizers, or plain variables
        raise disk_full(directory / name, size) from None
    write_json(directory / "progress.json", {"epoch": epoch, "checkpoint": name, "history": history}, sort_keys=False)
    remove(old for old in directory.glob("epoch-*") if not old.name.startswith(name + "."))


def remove(paths) -> None:
    """Delete files and folders."""
    for path in list(paths):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
