"""The run lists behind the reports' results: the Pittsburgh GLUE comparison and the UCSD IMDb one.

Each suite is a list of `RunConfig`s over one `base` (encoder, caps, epochs, out, ...); running
them one by one with `runner.run` skips finished runs and resumes a cut one.

Example:
    >>> configs = glue_suite({"max_examples": 500, "out": "runs/glue"}, tasks=("rte",))
    >>> [(c.label(), c.resolved_lr()) for c in configs][:2]
    [('finetune', 2e-05), ('freeze-4', 2e-05)]
"""
from __future__ import annotations

from minion_tf.runs.config import RunConfig

PITTSBURGH_LRS = (2e-5, 1e-3)
GLUE_TASKS = ("rte", "mrpc", "stsb", "cola", "sst2")
IMDB_MODELS = ("finetune", "embeddings-only", "encoder-only", "prompt", "bitfit")


def glue_suite(base: dict, tasks=GLUE_TASKS, last_ks=(4, 3, 2, 1), hidden: int = 64) -> list[RunConfig]:
    """Full and last-k fine-tuning at both Pittsburgh rates, BitFit, prompt and MINION-h on each task.

    Every task's runs at 2e-5 (and BitFit, prompt, MINION at their own rates) come first, then
    the 1e-3 arm: a suite cut short for time has covered every task and method once.
    """
    first, second = [], []
    for task in tasks:
        for model, extra in [("finetune", {}), *[("freeze", {"last_k": k}) for k in last_ks]]:
            first.append(RunConfig(**{**base, "task": task, "model": model, **extra, "lr": PITTSBURGH_LRS[0]}))
            second.append(RunConfig(**{**base, "task": task, "model": model, **extra, "lr": PITTSBURGH_LRS[1]}))
        first += [RunConfig(**{**base, "task": task, "model": model, "hidden": hidden})
                  for model in ("bitfit", "prompt", "minion")]
    return first + second


def imdb_suite(base: dict, fractions=(0.9, 0.3), models=IMDB_MODELS) -> list[RunConfig]:
    """The UCSD methods on IMDb at each train fraction (the rest of train validates)."""
    return [RunConfig(**{**base, "task": "imdb", "model": model, "train_fraction": fraction})
            for fraction in fractions for model in models]
