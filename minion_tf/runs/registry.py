"""The model registry of `experiments/run.py --model`: each method is one module that registers itself.

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
METHOD_MODULES = ("minion_tf.runs.side_tuning",)


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
