"""The resolved configuration of one multi-task minBERT run; `experiments/multitask.py` maps flags onto it.

Example:
    >>> cfg = MultitaskConfig(pcgrad=True, max_examples_per_task=1000, epochs=2)
    >>> cfg.run_dir()       # runs/multitask/mt-mlp-mean-mean-pcgrad-s0-<hash>
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.runs.defaults import shared_data_root

# Keeps the default run near 15-20 minutes on 2 CPU cores with MiniLM (3 tasks x 2000 examples, 2 epochs).
DEFAULT_MAX_EXAMPLES = 2000
# The first CS224N report weighs the sentiment loss without giving the factor; 1.0 leaves SST unweighted
# (its loss is already the largest, ~ln 5 at the start), so results do not hinge on a guessed value.
DEFAULT_SST_LOSS_WEIGHT = 1.0
# Fields that say where a run goes or what it logs, not what it computes: outside the run key.
LOG_FIELDS = ("out", "name", "data", "tensorboard")


@dataclass
class MultitaskConfig:
    """Everything that decides a multi-task run's result (and the paths where it goes)."""

    encoder: str = "minilm"
    data: str | None = None
    epochs: int = 2
    batch_size: int = 16
    lr: float = 5e-5
    max_length: int = 64
    max_examples_per_task: int | None = DEFAULT_MAX_EXAMPLES
    max_dev_examples: int | None = None
    seed: int = 0
    split_seed: int = 0
    out: str = "runs/multitask"
    name: str | None = None
    pcgrad: bool = False
    gse: bool = False
    smart: bool = False
    smart_lambda: float = 5.0
    smart_step: float = 1e-3
    smart_eps: float = 1e-5
    smart_noise: float = 1e-5
    select_fraction: float | None = None
    sts_head: str = "mlp"
    pooling: str = "mean"
    loss_reduction: str = "mean"
    cfimdb: bool = False
    kl_consistency: float = 0.0
    sst_loss_weight: float = DEFAULT_SST_LOSS_WEIGHT
    iterations_multiplier: int = 1
    final_task_stage: int = 0
    head_dropout: float = 0.1
    tensorboard: bool = False  # also write TensorBoard event files (logs only: not in the run key)

    def __post_init__(self):
        for name in ("epochs", "batch_size", "max_length", "iterations_multiplier"):
            if int(getattr(self, name)) < 1:
                raise MinionError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.final_task_stage < 0:
            raise MinionError(f"--final-task-stage must be >= 0 epochs, got {self.final_task_stage}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise MinionError(f"--lr must be positive, got {self.lr}")
        for name in ("max_examples_per_task", "max_dev_examples"):
            value = getattr(self, name)
            if value is not None and value < 10:
                raise MinionError(f"--{name.replace('_', '-')} must be at least 10 (or 0 for all), got {value}")
        if self.select_fraction is not None and not 0.0 < self.select_fraction < 1.0:
            raise MinionError(f"--select-fraction must be in (0, 1), got {self.select_fraction}")
        choices = {"sts_head": ("mlp", "cosine", "uvcos"), "pooling": ("cls", "mean"),
                   "loss_reduction": ("mean", "sum")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise MinionError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, "
                                  f"got {getattr(self, name)!r}")
        nonneg = ("smart_lambda", "smart_step", "smart_eps", "smart_noise", "kl_consistency", "sst_loss_weight")
        for name in nonneg:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise MinionError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
        if not 0.0 <= self.head_dropout < 1.0:
            raise MinionError(f"--head-dropout must be in [0, 1), got {self.head_dropout}")
        if self.name is not None and (not self.name or "/" in self.name or self.name.startswith(".")):
            raise MinionError(f"--name must be a plain folder name, got {self.name!r}")

    @property
    def tasks(self) -> tuple[str, ...]:
        return ("sst", "para", "sts") + (("cfimdb",) if self.cfimdb else ())

    def data_dir(self) -> Path:
        return Path(self.data) if self.data else shared_data_root() / "minbert"

    def as_dict(self) -> dict:
        return asdict(self)

    def run_key(self) -> str:
        """Digest of the fields that change results (paths and the name excluded)."""
        key = {k: v for k, v in self.as_dict().items() if k not in LOG_FIELDS}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]

    def default_name(self) -> str:
        parts = ["mt", self.sts_head, self.pooling, self.loss_reduction]
        parts += [flag for flag in ("pcgrad", "gse", "smart", "cfimdb") if getattr(self, flag)]
        if self.select_fraction is not None:
            parts.append(f"top{self.select_fraction:g}")
        if self.kl_consistency:
            parts.append(f"kl{self.kl_consistency:g}")
        return "-".join(parts + [f"s{self.seed}", self.run_key()])

    def run_dir(self) -> Path:
        return Path(self.out) / (self.name or self.default_name())
