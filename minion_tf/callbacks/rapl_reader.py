"""Reads CPU package energy from Linux RAPL (`/sys/class/powercap`), where it is readable."""
import math
from pathlib import Path

RAPL_ROOT = "/sys/class/powercap"


class RaplReader:
    """Cumulative energy of all CPU packages since `open`, in joules, with counter wrap-around.

    Reads the top-level `intel-rapl:N` zones named `package-*` (AMD CPUs appear there too on
    recent kernels); sub-zones are parts of their package and are not added. Since 2020 most
    kernels make `energy_uj` readable by root only; then `open` is False and `error` says why.

    Example:
        >>> rapl = RaplReader()
        >>> if rapl.open(): print(rapl.read_joules())
    """

    def __init__(self, root: str = RAPL_ROOT):
        self.root = Path(root)
        self.error: str | None = None
        self._zones: list[tuple[Path, int]] = []
        self._last: list[int] = []
        self._total_j = math.nan

    def open(self) -> bool:
        """Find and read the package zones; True when every one of them is readable."""
        self._zones, self._last, self._total_j = [], [], math.nan
        try:
            candidates = sorted(p for p in self.root.glob("intel-rapl:*") if p.name.count(":") == 1)
            zones = [(p / "energy_uj", int((p / "max_energy_range_uj").read_text()))
                     for p in candidates if (p / "name").read_text().strip().startswith("package")]
            last = [int(energy.read_text()) for energy, _ in zones]
        except (OSError, ValueError) as error:
            self.error = f"RAPL unreadable ({error})"
            return False
        if not zones:
            self.error = f"RAPL unreadable (no package zone under {self.root})"
            return False
        self._zones, self._last, self._total_j = zones, last, 0.0
        return True

    def read_joules(self) -> float:
        """Energy since `open` (NaN when not open or a zone stopped being readable)."""
        if math.isnan(self._total_j):
            return math.nan
        try:
            now = [int(energy.read_text()) for energy, _ in self._zones]
        except (OSError, ValueError):
            self._total_j = math.nan
            return math.nan
        for (_, max_range), before, after in zip(self._zones, self._last, now):
            self._total_j += ((after - before) % (max_range + 1)) / 1e6
        self._last = now
        return self._total_j
