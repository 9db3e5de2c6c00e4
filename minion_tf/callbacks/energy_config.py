"""Settings of the energy and memory sampler."""
import math
import os
from dataclasses import dataclass

from minion_tf.errors import MinionError


@dataclass(frozen=True)
class EnergyConfig:
    """How often to sample, the paper's power constant, and where the per-sample CSV goes.

    `p0_kw` is the full-load power of one GPU in eq. 2 of the MINION paper (0.4 kW, an A100);
    `csv_path=None` writes no CSV.

    Example:
        >>> EnergyConfig(interval_s=5.0, csv_path="runs/x/energy.csv")
    """

    interval_s: float = 10.0
    p0_kw: float = 0.4
    csv_path: str | os.PathLike | None = None

    def __post_init__(self):
        if not (isinstance(self.interval_s, (int, float)) and math.isfinite(self.interval_s) and self.interval_s > 0):
            raise MinionError(f"EnergyConfig.interval_s: must be a positive number of seconds, got {self.interval_s!r}")
        if not (isinstance(self.p0_kw, (int, float)) and math.isfinite(self.p0_kw) and self.p0_kw > 0):
            raise MinionError(f"EnergyConfig.p0_kw: must be a positive power in kW, got {self.p0_kw!r}")
