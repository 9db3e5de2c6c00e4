"""What the reports read from a run record's config: its method (from the method registry), the
method's label and display name, and the order of the tables' rows.

A record's `config` is flat: the shared run fields plus the method's own options. Old records also
carry other methods' options ("hidden": 64 on every method, "last_k": null); only the keys that are
the method's own options are taken. A model that is not registered (a plugin no longer installed)
keeps its row under its model name and is ordered last.

Example:
    >>> method_label({"model": "minion", "hidden": 64, "last_k": None}), method_label({"model": "adapter"})
    ('minion-64', 'adapter')
    >>> display_name({"model": "finetune", "encoder": "minilm", "hidden": 64})
    'MiniLM-L6 (fine-tuned)'
"""
from __future__ import annotations

import math
from pathlib import Path

from minion_tf.methods.base import Method
from minion_tf.methods.registry import make_method, methods

ENCODER_NAMES = {"minilm": "MiniLM-L6"}  # encoder -> its name in the tables (else the folder's or id's last part)


def machine_text(records) -> str:
    """The machines a set of runs' times come from, as a note says it: "a machine with 2 CPU cores" (records
    made before runs kept their machine: "the runs' machine (not recorded)")."""
    cores = sorted({r["machine"]["cpu_cores"] for r in records if "machine" in r})
    if not cores:
        return "the runs' machine (not recorded)"
    some = "a machine" if len(cores) == 1 else "machines"
    missing = " (and machines not recorded)" if any("machine" not in r for r in records) else ""
    return f"{some} with {' and '.join(map(str, cores))} CPU cores{missing}"


def encoder_name(encoder: str) -> str:
    return ENCODER_NAMES.get(encoder, Path(encoder).name)


def record_method(config: dict) -> Method | None:
    """The method of a record's config, with the options that are its own; None if `model` is not registered.

    Raises MinionError when the record's own options are invalid (a required one null or missing).
    """
    cls = methods().get(config["model"])
    if cls is None:
        return None
    own = {f.name for f in cls.Config.options()}
    return make_method(cls.name, {k: v for k, v in config.items() if k in own and v is not None})


def method_label(config: dict) -> str:
    """The method's name in the task tables: `minion-64`, `freeze-2`, `finetune` (else the model)."""
    method = record_method(config)
    return method.label() if method is not None else config["model"]


def display_name(config: dict) -> str:
    """The method's name in the paper-style tables: `MINION-64`, `MiniLM-L6 (fine-tuned)`, `FastText`."""
    method = record_method(config)
    return method.display_name(encoder_name(config.get("encoder", "?"))) if method is not None else config["model"]


def method_kind(config: dict) -> tuple[str, str]:
    """Table I's (type, training method); ("?", model) for an unregistered model."""
    method = record_method(config)
    return method.kind if method is not None else ("?", config["model"])


def method_rank(config: dict) -> tuple:
    """Sort key of a record's method: (its `order`, name, size); unregistered models last.

    Example:
        >>> sorted([{"model": "minion", "hidden": 64}, {"model": "finetune"}], key=method_rank)[0]["model"]
        'finetune'
    """
    method = record_method(config)
    if method is None:
        return math.inf, config["model"], 0.0
    return method.order, method.name, _size(method.size())


def _size(size: str | None) -> float:
    try:
        return float(size)
    except (TypeError, ValueError):  # no size, or one that is not a number
        return 0.0
