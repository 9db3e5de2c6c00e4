"""Per-epoch figures in the formats people read with their own tools: `history.csv` (the layout of
Keras' CSVLogger: `epoch` then the sorted keys) and, when asked, TensorBoard event files laid out
as Keras' TensorBoard callback lays them out (`train/` and `validation/` runs, `epoch_<name>`
tags), so loss, accuracy, ACE and energy curves show up in TensorBoard as usual.

Both are rewritten from the run's whole history after every epoch, so a resumed run's files hold
every epoch once.

Example:
    >>> logs = EpochLogs(run_dir, tensorboard=True)
    >>> logs.write([{"loss": 0.69, "val_accuracy": 0.51, "val_ace": 0.08}])   # after each epoch
"""
from __future__ import annotations

import csv
import io
import math
import shutil
from pathlib import Path

from minion_tf.io import write_text

HISTORY = "history.csv"
TENSORBOARD = "tensorboard"


def flat(entry: dict, prefix: str = "") -> dict:
    """A history entry with nested dicts joined by "_" ({"dev": {"sst": 1}} -> {"dev_sst": 1})."""
    out = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}_"))
        elif value is None or isinstance(value, (int, float, str)):
            out[prefix + key] = value
    return out


def history_csv(history: list[dict]) -> str:
    """CSVLogger's layout: a header `epoch,<keys sorted>`, then one row per epoch (missing: empty)."""
    rows = [flat(e) for e in history]
    keys = sorted({k for row in rows for k in row} - {"epoch"})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch, row in enumerate(rows):
        writer.writerow([epoch, *("" if row.get(k) is None else row[k] for k in keys)])
    return out.getvalue()


class EpochLogs:
    """Writes `history.csv` (always) and TensorBoard events (with `tensorboard`) into a run folder."""

    def __init__(self, run_dir: Path, tensorboard: bool = False):
        self.run_dir = Path(run_dir)
        self.tensorboard = tensorboard

    def write(self, history: list[dict]) -> None:
        write_text(self.run_dir / HISTORY, history_csv(history))
        if self.tensorboard:
            self._events(history)

    def _events(self, history: list[dict]) -> None:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        # What tensorboard's own `scalar` writes, without needing the tensorboard package here.
        scalar = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
                                             data_class=summary_pb2.DATA_CLASS_SCALAR)
        root = self.run_dir / TENSORBOARD
        shutil.rmtree(root, ignore_errors=True)  # rewritten whole: a resumed run has each epoch once
        writers = {name: tf.summary.create_file_writer(str(root / name)) for name in ("train", "validation")}
        for epoch, entry in enumerate(history):
            for key, value in flat(entry).items():
                if isinstance(value, str) or value is None or not math.isfinite(value) or key == "epoch":
                    continue
                run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                with writers[run].as_default():
                    tf.summary.write(f"epoch_{name}", tf.constant(value, tf.float32), step=epoch, metadata=scalar)
        for writer in writers.values():
            writer.close()
