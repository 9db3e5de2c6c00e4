"""The resolved configuration of one run; the command line maps its flags onto it.

What every run shares is a field here; a method's own hyperparameters (MINION's `hidden`,
LoRA's `rank`) are its `options`, checked by the method's config (`minion_tf.methods`).

Example:
    >>> cfg = RunConfig(model="minion", options={"hidden": 64})
    >>> cfg.resolved_lr()   # 3e-4, the paper's rate for MINION-64
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.backbones.subset import parse_states
from minion_tf.methods.base import KerasMethod
from minion_tf.methods.side import SideNetworkMethod
from minion_tf.methods.registry import make_method, methods
from minion_tf.cache import DTYPES as CACHE_DTYPES
from minion_tf.distribute import check_strategy
from minion_tf.precision import check_precision
from minion_tf.runs.task_data import task_spec

# Keeps the default run (`run.py --model minion --hidden 64`) near 15 minutes on 2 CPU cores.
DEFAULT_MAX_EXAMPLES = 20000
TEXT_FIELDS = ("text_column", "label_column", "pair_column", "regression", "no_dedupe", "split_hashtags",
               "anonymise")  # --task text only
LATER_FIELDS = ("task", "train_fraction", "max_test_examples", "patience", "min_delta", *TEXT_FIELDS, "precision",
                "strategy", "cache_dtype", "cache_layers")
# Where a run goes and what it logs, not what it computes: outside the run key.
PATH_FIELDS = ("out", "cache_dir", "no_cache", "cache_budget_gb", "seeds", "tensorboard")


@dataclass
class RunConfig:
    """Everything that decides a run's result (and a few paths that do not)."""

    model: str = "minion"
    options: dict = field(default_factory=dict)  # the method's own hyperparameters, e.g. {"hidden": 64}
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
    precision: str = "float32"  # or mixed precision: bfloat16, float16 (minion_tf.precision)
    strategy: str = "none"  # or mirrored, multiworker (minion_tf.distribute)
    cache_dtype: str = "float16"  # or int8: how the hidden-state cache stores the states (minion_tf.cache)
    cache_layers: str | None = None  # or e.g. "0,2,4,6": the states a side network reads (backbones.subset)

    def __post_init__(self):
        self.method = make_method(self.model, self.options)  # an unknown model or option fails here
        if clash := set(self.options) & {f.name for f in fields(self)}:
            raise MinionError(f"--model {self.model}: option {sorted(clash)[0]!r} is a shared run field, not an option")
        if self.method.tasks and self.task not in self.method.tasks:
            raise MinionError(f"--model {self.model} runs on --task {', '.join(self.method.tasks)}, "
                              f"not --task {self.task}")
        if (owners := [name for name, cls in methods().items() if self.task in cls.tasks]) and self.model not in owners:
            raise MinionError(f"--task {self.task} is run by --model {', '.join(owners)}, not --model {self.model}")
        positive = {"epochs": self.epochs, "batch_size": self.batch_size,
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
        check_precision(self.precision)
        if self.precision != "float32" and not isinstance(self.method, KerasMethod):
            raise MinionError(f"--precision {self.precision} goes with the Keras-trained methods; "
                              f"--model {self.model} runs in float32")
        if self.cache_dtype not in CACHE_DTYPES:
            raise MinionError(f"--cache-dtype must be one of {', '.join(CACHE_DTYPES)}, got {self.cache_dtype!r}")
        for flag, given in (("--cache-dtype", self.cache_dtype != "float16"), ("--cache-layers", self.cache_layers)):
            if given and not isinstance(self.method, SideNetworkMethod):
                sides = ", ".join(n for n, cls in methods().items() if issubclass(cls, SideNetworkMethod))
                raise MinionError(f"{flag} goes with the side networks ({sides}), not --model {self.model}")
        if self.cache_layers is not None:
            self.cache_layers = ",".join(map(str, parse_states(self.cache_layers)))  # one spelling, one run key
        check_strategy(self.strategy)
        if self.strategy != "none" and not isinstance(self.method, KerasMethod):
            raise MinionError(f"--strategy {self.strategy} goes with the methods Keras trains; --model {self.model} "
                              "trains with its own loop, in one process on one device")
        if self.task != "text":
            task_spec(self.task)  # an unknown task fails here, before any work
        if not 0 < self.train_fraction < 1:
            raise MinionError(f"--train-fraction must be in (0, 1), got {self.train_fraction}")
        if int(self.seeds) < 1:
            raise MinionError(f"--seeds must be at least 1, got {self.seeds}")
        if self.max_test_examples is not None and self.max_test_examples < 2:
            raise MinionError(f"--max-test-examples must be at least 2 (or 0 for all), got {self.max_test_examples}")
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
        """`lr`, or the method's default (the paper's rates; see each method's `default_lr`)."""
        return self.lr if self.lr is not None else self.method.default_lr()

    def method_options(self) -> dict:
        """The method's hyperparameters, defaults filled in."""
        return asdict(self.method.options)

    def as_dict(self) -> dict:
        """The record's "config": the shared fields and, beside them, the method's options (flat)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "options"}
        return {**out, **self.method_options(), "lr": self.resolved_lr()}

    def key_fields(self) -> dict:
        """What decides this method's result: paths, fields the method ignores, and the later fields
        at their defaults left out; the encoder named canonically (`minilm`, not its aliases)."""
        from minion_tf.backbones import canonical_encoder

        defaults = {f.name: f.default for f in fields(self)}
        key = {k: v for k, v in self.as_dict().items() if k not in PATH_FIELDS and k not in self.method.ignores
               and not (k in LATER_FIELDS and v == defaults[k])}
        if "encoder" in key:
            key["encoder"] = canonical_encoder(key["encoder"])
        return key

    def run_key(self) -> str:
        """Digest of `key_fields`."""
        return hashlib.sha256(json.dumps(self.key_fields(), sort_keys=True).encode()).hexdigest()[:8]

    def label(self) -> str:
        """The method's short name: minion-64, freeze-2, prompt-20, finetune, ..."""
        return self.method.label()

    def run_dir(self) -> Path:
        task = "" if self.task == "tweets" else f"{self.task}-"
        return Path(self.out) / f"{task}{self.label()}-lr{self.resolved_lr():g}-s{self.seed}-{self.run_key()}"
