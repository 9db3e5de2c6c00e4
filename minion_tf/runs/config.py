"""The resolved configuration of one run; the command line maps its flags onto it.

Example:
    >>> cfg = RunConfig(model="minion", hidden=64)
    >>> cfg.resolved_lr()   # 3e-4, the paper's rate for MINION-64
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from minion_tf.errors import MinionError

# Keeps the default run (`run.py --model minion --hidden 64`) near 15 minutes on 2 CPU cores.
DEFAULT_MAX_EXAMPLES = 20000
TEXT_FIELDS = ("text_column", "label_column", "pair_column", "regression", "no_dedupe", "split_hashtags",
               "anonymise")  # --task text only
LATER_FIELDS = ("task", "last_k", "prompt_length", "train_fraction", "max_test_examples", "patience", "min_delta",
                *TEXT_FIELDS)


@dataclass
class RunConfig:
    """Everything that decides a run's result (and a few paths that do not)."""

    model: str = "minion"
    hidden: int = 64
    lr: float | None = None
    epochs: int = 5
    batch_size: int = 256
    encoder: str = "minilm"
    tokenizer: str | None = None
    data: str | None = None
    max_examples: int | None = DEFAULT_MAX_EXAMPLES
    max_length: int = 64
    seed: int = 0
    out: str = "runs"
    cache_dir: str | None = None
    no_cache: bool = False
    cache_budget_gb: float = 20.0
    # Added for the other tasks and the fine-tuning family; at these defaults they stay out
    # of `run_key`, so tweet runs keep their keys (and folders).
    task: str = "tweets"
    last_k: int | None = None
    prompt_length: int = 20
    train_fraction: float = 0.9
    max_test_examples: int | None = None
    patience: int | None = None
    min_delta: float = 1e-3
    seeds: int = 1
    # --task text: your own CSV/TSV (or folder of train/val/test files) and how to prepare it
    text_column: str = "text"
    label_column: str = "label"
    pair_column: str | None = None
    regression: bool = False
    no_dedupe: bool = False
    split_hashtags: bool = False
    anonymise: bool = False
    tensorboard: bool = False  # also write TensorBoard event files (logs only: not in the run key)

    def __post_init__(self):
        positive = {"hidden": self.hidden, "epochs": self.epochs, "batch_size": self.batch_size,
                    "max_length": self.max_length}
        for name, value in positive.items():
            if int(value) < 1:
                raise MinionError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.lr is not None and not self.lr > 0:
            raise MinionError(f"--lr must be positive, got {self.lr}")
        if self.max_examples is not None and self.max_examples < 10:
            raise MinionError(f"--max-examples must be at least 10 (or 0 for all), got {self.max_examples}")
        if self.cache_budget_gb < 0:
            raise MinionError(f"--cache-budget-gb must be >= 0, got {self.cache_budget_gb}")
        from minion_tf.runs.task_data import task_spec

        if self.task != "text":
            task_spec(self.task)  # an unknown task fails here, before any work
        if not 0 < self.train_fraction < 1:
            raise MinionError(f"--train-fraction must be in (0, 1), got {self.train_fraction}")
        for name in ("prompt_length", "seeds"):
            if int(getattr(self, name)) < 1:
                raise MinionError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_test_examples is not None and self.max_test_examples < 2:
            raise MinionError(f"--max-test-examples must be at least 2 (or 0 for all), got {self.max_test_examples}")
        if (self.model == "freeze") != (self.last_k is not None):
            raise MinionError("--last-k K goes with --model freeze (the number of last layers that train), and only with it")
        if self.patience is not None and self.patience < 0:
            raise MinionError(f"--patience must be >= 0, got {self.patience}")
        if self.task != "text":
            given = [f for f in TEXT_FIELDS if getattr(self, f) != RunConfig.__dataclass_fields__[f].default]
            if given:
                raise MinionError(f"--{given[0].replace('_', '-')} goes with --task text (your own data), "
                                  f"not --task {self.task}")

    def resolved_patience(self) -> int:
        """Epochs without a gain of `min_delta` before stopping: 2 on GLUE (Pittsburgh) and your own data, else 0."""
        if self.patience is not None:
            return self.patience
        return 0 if self.task in ("tweets", "imdb") else 2

    def resolved_lr(self) -> float:
        """`lr`, or the model's default (the paper's rates; see each method's `default_lr`)."""
        from minion_tf.runs.registry import get_method

        return self.lr if self.lr is not None else get_method(self.model).default_lr(self)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["lr"] = self.resolved_lr()
        return out

    def run_key(self) -> str:
        """Digest of the fields that change results (paths excluded)."""
        ignore = {"out", "cache_dir", "no_cache", "cache_budget_gb", "seeds", "tensorboard"}
        defaults = RunConfig.__dataclass_fields__
        key = {k: v for k, v in self.as_dict().items()
               if k not in ignore and not (k in LATER_FIELDS and v == defaults[k].default)}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]

    def label(self) -> str:
        """The method's short name: minion-64, freeze-2, prompt-20, finetune, ..."""
        suffix = {"read": self.hidden, "minion": self.hidden, "freeze": self.last_k, "prompt": self.prompt_length}
        return f"{self.model}-{suffix[self.model]}" if self.model in suffix else self.model

    def run_dir(self) -> Path:
        if self.task == "tweets":  # the original naming
            name = f"{self.model}-h{self.hidden}-lr{self.resolved_lr():g}-s{self.seed}-{self.run_key()}"
        else:
            name = f"{self.task}-{self.label()}-lr{self.resolved_lr():g}-s{self.seed}-{self.run_key()}"
        return Path(self.out) / name
