"""The model registry of `experiments/run.py --model`: each method is one module that registers itself.

A method is a class with
- ``default_lr(config) -> float`` (static): the learning rate when ``--lr`` is not given;
- ``describe(config) -> {"trainable": int, "total": int}``: counts without weights or data;
- ``train(config, data, run_dir, callbacks_for) -> dict``: trains on ``data`` (a
  `task_data.RunData`: "train", "val" and test `Split`s, and the task's spec), saves what
  reloading needs into ``run_dir``, and returns ``{"history": [per-epoch logs], "best_epoch":
  index, "test_probs": {test split: (n, outputs) array}, "timings": {...}, "params":
  {"trainable", "total"}, "details": {...} (optional, merged into run.json)}``.
  ``callbacks_for(val_data, calibrate)`` gives the energy (and, for classifiers, calibration)
  callbacks for its ``fit``;
- ``load_predictor(run_dir) -> predict`` (static): ``predict(texts, pairs=None) -> (n, outputs)``
  from what ``train`` saved in a finished run (texts normalised as the run's training data).

Example:
    >>> @register("minion", "read")
    ... class SideTuning: ...
    >>> get_method("minion")
"""
from __future__ import annotations

import importlib

from minion_tf.errors import MinionError

_METHODS: dict[str, type] = {}
# Modules imported on first lookup, so that each registers its names.
METHOD_MODULES = ("minion_tf.runs.side_tuning", "minion_tf.runs.finetune", "minion_tf.runs.freeze",
                  "minion_tf.runs.bitfit", "minion_tf.runs.prompt", "minion_tf.runs.embeddings_only",
                  "minion_tf.runs.encoder_only", "minion_tf.runs.fasttext_method")


def register(*names: str):
    def add(cls):
        for name in names:
            _METHODS[name] = cls
        return cls
    return add


def known_methods() -> list[str]:
    for module in METHOD_MODULES:
        importlib.import_module(module)
    return sorted(_METHODS)


def get_method(name: str):
    """An instance of the method registered under `name`."""
    known = known_methods()
    if name not in _METHODS:
        raise MinionError(f"unknown model {name!r}; known: {', '.join(known)}")
    return _METHODS[name]()
