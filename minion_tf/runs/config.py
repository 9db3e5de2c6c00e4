"""The resolved configuration of one run; the command line maps its flags onto it.

Example:
    >>> cfg = RunConfig(model="minion", hidden=64)
    >>> cfg.resolved_lr()   # 3e-4, the paper's rate for MINION-64
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from minion_tf.errors import MinionError

# Keeps the default run (`run.py --model minion --hidden 64`) near 15 minutes on 2 CPU cores.
DEFAULT_MAX_EXAMPLES = 20000


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

    def resolved_lr(self) -> float:
        """The paper's learning rates: READ 1e-3; MINION 1e-3 below h = 64, else 3e-4."""
        if self.lr is not None:
            return self.lr
        if self.model == "minion":
            return 1e-3 if self.hidden < 64 else 3e-4
        return 1e-3

    def as_dict(self) -> dict:
        out = asdict(self)
        out["lr"] = self.resolved_lr()
        return out

    def run_key(self) -> str:
        """Digest of the fields that change results (paths excluded)."""
        ignore = {"out", "cache_dir", "no_cache", "cache_budget_gb"}
        key = {k: v for k, v in self.as_dict().items() if k not in ignore}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]

    def run_dir(self) -> Path:
        name = f"{self.model}-h{self.hidden}-lr{self.resolved_lr():g}-s{self.seed}-{self.run_key()}"
        return Path(self.out) / name

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
