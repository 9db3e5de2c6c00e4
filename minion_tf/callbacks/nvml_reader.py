"""Reads utilisation, memory, power and the energy counter of each visible GPU through NVML."""
import importlib
import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one instant; NaN where the GPU does not support the query."""

    utilization_pct: float
    memory_used_bytes: float
    power_w: float
    energy_counter_j: float


class NvmlReader:
    """Opens NVML, finds the visible GPUs and reads them; never raises for a missing GPU.

    `nvml` is the `pynvml` module (imported on `open` when None); tests pass a fake.
    Visible GPUs follow `CUDA_VISIBLE_DEVICES` (indices or `GPU-` UUIDs; as in CUDA, the
    list ends at the first entry that is not a GPU), else every GPU NVML reports.

    Example:
        >>> reader = NvmlReader()
        >>> if reader.open(): print(reader.read()); reader.close()
        ... else: print(reader.error)
    """

    def __init__(self, nvml=None):
        self._nvml = nvml
        self._handles: list = []
        self._initialised = False
        self.error: str | None = None

    @property
    def num_gpus(self) -> int:
        return len(self._handles)

    def open(self) -> bool:
        """Initialise NVML; True when at least one GPU can be read, else `error` says why."""
        nvml = self._nvml
        if nvml is None:
            try:
                nvml = self._nvml = importlib.import_module("pynvml")
            except ImportError:
                self.error = "pynvml is not installed (pip install nvidia-ml-py)"
                return False
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as error:
            self.error = f"NVML unavailable ({error})"
            return False
        self._initialised = True
        self._handles = self._visible_handles(nvml)
        if not self._handles:
            self.error = "NVML found no visible GPU"
            self.close()
            return False
        return True

    def read(self) -> list[GpuReading]:
        """One reading per visible GPU."""
        nvml = self._nvml
        readings = []
        for handle in self._handles:
            readings.append(GpuReading(
                utilization_pct=self._query(lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                memory_used_bytes=self._query(lambda: nvml.nvmlDeviceGetMemoryInfo(handle).used),
                power_w=self._query(lambda: nvml.nvmlDeviceGetPowerUsage(handle)) / 1e3,
                energy_counter_j=self._query(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) / 1e3,
            ))
        return readings

    def close(self) -> None:
        """Release NVML (idempotent)."""
        if self._initialised:
            self._initialised = False
            self._handles = []
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass

    def _query(self, call) -> float:
        try:
            return float(call())
        except self._nvml.NVMLError:
            return math.nan

    @staticmethod
    def _visible_handles(nvml) -> list:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        try:
            if visible is None:
                return [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
        except nvml.NVMLError:
            return []
        handles = []
        for entry in (item.strip() for item in visible.split(",")):
            try:
                if entry.isdigit():
                    handles.append(nvml.nvmlDeviceGetHandleByIndex(int(entry)))
                elif entry.startswith("GPU-"):
                    handles.append(nvml.nvmlDeviceGetHandleByUUID(entry))
                else:
                    break
            except nvml.NVMLError:
                break
        return handles
