"""The run lists behind the reports' results: the Pittsburgh GLUE comparison and the UCSD IMDb one.

Each suite is a list of `RunConfig`s over one `base` (encoder, caps, epochs, out, ...); running
them one by one with `runner.run` skips finished runs and resumes a cut one.

Example:
    >>> configs = glue_suite({"max_examples": 500, "out": "runs/glue"}, tasks=("rte",))
    >>> [c.label() for c in configs][:3]
    ['finetune', 'finetune', 'freeze-4']
"""
from __future__ import annotations

from minion_tf.runs.config import RunConfig

PITTSBURGH_LRS = (2e-5, 1e-3)
GLUE_TASKS = ("rte", "mrpc", "stsb", "cola", "sst2")
IMDB_MODELS = ("finetune", "embeddings-only", "encoder-only", "prompt", "bitfit")


def glue_suite(base: dict, tasks=GLUE_TASKS, last_ks=(4, 3, 2, 1), hidden: int = 64) -> list[RunConfig]:
    """Per task: full and last-k fine-tuning at both Pittsburgh rates, then BitFit, prompt and MINION-h."""
    configs = []
    for task in tasks:
        for lr in PITTSBURGH_LRS:
            configs.append(RunConfig(**{**base, "task": task, "model": "finetune", "lr": lr}))
        for k in last_ks:
            for lr in PITTSBURGH_LRS:
                configs.append(RunConfig(**{**base, "task": task, "model": "freeze", "last_k": k, "lr": lr}))
        for model in ("bitfit", "prompt", "minion"):
            configs.append(RunConfig(**{**base, "task": task, "model": model, "hidden": hidden}))
    return configs


def imdb_suite(base: dict, fractions=(0.9, 0.3), models=IMDB_MODELS) -> list[RunConfig]:
    """The UCSD methods on IMDb at each train fraction (the rest of train validates)."""
    return [RunConfig(**{**base, "task": "imdb", "model": model, "train_fraction": fraction})
            for fraction in fractions for model in models]
