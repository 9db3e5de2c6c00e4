"""Run folders named by earlier versions: found, and the user told in one line how to keep them.

Before methods had their own options, every run's key hashed `hidden`, `last_k` and
`prompt_length` whatever the method, the encoder as typed, and tweet runs were named
`MODEL-hH-lrLR-sSEED-KEY`. A finished or interrupted run under such a name is never redone
silently: `check_legacy` refuses with the `mv` that keeps it.

Multi-task minBERT runs were made by their own runner (`experiments/multitask.py` before it called
this one) in `OUT/mt-HEAD-POOLING-REDUCTION[-extensions]-sSEED-KEY`; such a folder gets the same line.
A run given its own `--name` then cannot be found: move it by hand.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.runs.config import LATER_FIELDS, PATH_FIELDS

OLD_METHODS = ("read", "minion", "finetune", "freeze", "bitfit", "prompt", "embeddings-only", "encoder-only",
               "fasttext")


def legacy_run_dir(config) -> Path | None:
    """Where the version before method options put this run (None for methods it did not have)."""
    if config.model == "multitask":
        return _multitask_run_dir(config)
    if config.model not in OLD_METHODS:
        return None
    options = config.method_options()
    old = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "options"}
    old.update(hidden=options.get("hidden", 64), last_k=options.get("last_k"),
               prompt_length=options.get("prompt_length", 20), lr=config.resolved_lr())
    defaults = {f.name: f.default for f in fields(config)} | {"last_k": None, "prompt_length": 20}
    later = {*LATER_FIELDS, "last_k", "prompt_length"}
    key = {k: v for k, v in old.items() if k not in PATH_FIELDS and not (k in later and v == defaults[k])}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
    if config.task == "tweets":
        name = f"{config.model}-h{old['hidden']}-lr{config.resolved_lr():g}-s{config.seed}-{digest}"
    else:
        name = f"{config.task}-{config.label()}-lr{config.resolved_lr():g}-s{config.seed}-{digest}"
    return Path(config.out) / name


def _multitask_run_dir(config) -> Path:
    """The folder of the multi-task runner before this one (its `MultitaskConfig.default_name`)."""
    options = config.method_options()
    floats = {f.name for f in fields(config.method.options) if "float" in str(f.type)}
    old = {"encoder": config.encoder, "epochs": config.epochs, "batch_size": config.batch_size,
           "lr": float(config.resolved_lr()), "max_length": config.max_length,
           "max_examples_per_task": config.max_examples, "seed": config.seed,
           **{k: float(v) if k in floats and v is not None else v for k, v in options.items()}}
    digest = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:8]
    parts = ["mt", options["sts_head"], options["pooling"], options["loss_reduction"]]
    parts += [name for name in ("pcgrad", "gse", "smart", "cfimdb") if options[name]]
    if options["select_fraction"] is not None:
        parts.append(f"top{options['select_fraction']:g}")
    if options["kl_consistency"]:
        parts.append(f"kl{options['kl_consistency']:g}")
    return Path(config.out) / "-".join(parts + [f"s{config.seed}", digest])


def check_legacy(config) -> None:
    """One line if this run was made (or begun) under its old folder name and not yet under the new one."""
    new, old = config.run_dir(), legacy_run_dir(config)
    if old is None or old == new or new.exists() or not old.is_dir():
        return
    why = ("multi-task runs are now named like every run" if config.model == "multitask"
           else "run keys now hold only what the method uses")
    raise MinionError(keep_line(old, new, why))


def keep_line(old: Path, new: Path, why: str) -> str:
    """The line telling how to keep a run found in its old folder `old` (`why` it moved): the `mv`."""
    return f"{old} holds this run under its old name ({why}): `mv {old} {new}` keeps it, or delete it to run again"
