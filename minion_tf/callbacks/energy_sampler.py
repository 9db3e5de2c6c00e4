"""Background sampler of GPU and CPU energy and memory, with per-epoch and per-fit figures.

Energy follows eq. 2 of the MINION paper, generalised from 10 s samples to any interval:
E[kWh] = p0 * sum_i (u_i / 100) * dt_i / 3600, with u_i the utilisation (%) read at t_i,
dt_i = t_i - t_{i-1} the time since the previous sample, p0 in kW, and the sum running over
samples and GPUs. With dt = 10 s this is the paper's p0 / 36000 * sum u_i. Next to it:
energy from NVML's total-energy counter, CPU package energy from RAPL, mean power E / H,
peak GPU memory (sum over GPUs of memory used, max over samples), peak process RSS (the
process's lifetime peak, `ru_maxrss`; private memory per phase is `minion_tf.memory`'s) and
duration. Every figure is NaN where it cannot be measured; training never stops for it.

Samples are taken by a daemon thread every `interval_s` and, synchronously, at the start
and end of each epoch and fit, so epoch figures cover exactly their epoch. Nothing runs
per training step. The thread holds only a weak reference to the sampler: it ends on
`stop()`, when a new `start()` begins, when the sampler is garbage-collected, and at exit.
"""
import csv
import functools
import math
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

from minion_tf.callbacks.energy_config import EnergyConfig
from minion_tf.callbacks.nvml_reader import NvmlReader
from minion_tf.callbacks.rapl_reader import RAPL_ROOT, RaplReader
from minion_tf.errors import MinionError
from minion_tf.memory import lifetime_peak_rss_bytes, sample_forever

KEYS = ("energy_kwh", "energy_counter_kwh", "cpu_energy_kwh", "power_kw", "gpu_mem_peak_gib", "rss_peak_gib",
        "duration_s")
PEAK_KEYS = ("gpu_mem_peak_gib", "rss_peak_gib")  # maxima; the other figures but power add up over fits
_J_PER_KWH = 3.6e6
_GIB = 2.0**30


class EnergySampler:
    """Samples NVML (and RAPL) in the background and reports energy and memory per epoch and fit.

    `nvml` replaces the `pynvml` module and `clock` the monotonic clock (seconds), both for
    tests; `sample_once()` takes one sample by hand. `summary` holds the figures of the last
    finished (or stopped) fit under the names in `KEYS`.

    Example:
        >>> sampler = EnergySampler(EnergyConfig(interval_s=10.0, csv_path="energy.csv"))
        >>> sampler.start(); sampler.begin_epoch(0)
        >>> ...  # train one epoch
        >>> epoch = sampler.end_epoch(); fit = sampler.stop()
        >>> fit["energy_kwh"], fit["gpu_mem_peak_gib"]
    """

    def __init__(self, config: EnergyConfig | None = None, *, nvml=None, clock=time.monotonic,
                 rapl_root: str = RAPL_ROOT):
        self.config = config or EnergyConfig()
        self._nvml_module = nvml
        self._clock = clock
        self._rapl_root = rapl_root
        self._lock = threading.RLock()
        self._warned = False
        self._session: _Session | None = None
        self._finalizer: weakref.finalize | None = None
        self.summary: dict = {}

    @property
    def thread(self) -> threading.Thread | None:
        """The background thread of the running fit, if any."""
        return self._session.thread if self._session else None

    def start(self, background: bool = True) -> None:
        """Reset, open NVML/RAPL and the CSV, take the first sample, start the thread.

        A fit that raised never reached `stop()`; its thread and files are closed here.
        """
        self.stop()
        nvml, rapl = NvmlReader(self._nvml_module), RaplReader(self._rapl_root)
        has_gpu, has_cpu = nvml.open(), rapl.open()
        session = _Session(nvml, rapl, self._open_csv(nvml.num_gpus))
        self._finalizer = weakref.finalize(self, session.close)
        nan = math.nan
        self._totals = _Totals(time=nan, util_kwh=0.0 if has_gpu else nan,
                               counter_j=0.0 if has_gpu else nan, cpu_j=0.0 if has_cpu else nan)
        self._counters: list[float] | None = None
        self._memory = self._fit_peak = self._epoch_peak = 0.0 if has_gpu else nan
        self._epoch: int | None = None
        self._session = session
        self.summary = {}
        self.sample_once()
        self._fit_start = self._epoch_start = replace(self._totals)
        self._warn_once(nvml, rapl, has_cpu)
        if background:
            session.thread = threading.Thread(
                target=sample_forever, args=(weakref.ref(self), session.stop, self.config.interval_s),
                name="minion-energy-sampler", daemon=True)
            session.thread.start()

    def sample_once(self) -> None:
        """Read every source, integrate energy since the previous sample, append a CSV row."""
        with self._lock:
            session = self._session
            if session is None:
                raise MinionError("EnergySampler: call start() before sampling")
            gpus = session.nvml.read()
            cpu_j = session.rapl.read_joules()
            now = self._clock()
            totals = self._totals
            if math.isnan(totals.time):
                self._t0 = totals.time = now
            dt = now - totals.time
            busy = sum(gpu.utilization_pct for gpu in gpus) / 100.0
            totals.util_kwh += self.config.p0_kw * busy * dt / 3600.0
            counters = [gpu.energy_counter_j for gpu in gpus]
            if self._counters is not None:
                totals.counter_j += sum(after - before for before, after in zip(self._counters, counters))
            self._counters = counters
            totals.cpu_j = cpu_j
            totals.time = now
            if gpus:
                self._memory = sum(gpu.memory_used_bytes for gpu in gpus)
                self._fit_peak = _peak(self._fit_peak, self._memory)
                self._epoch_peak = _peak(self._epoch_peak, self._memory)
            if session.csv is not None:
                row = [f"{now - self._t0:.3f}", "" if self._epoch is None else self._epoch]
                for gpu in gpus:
                    row += [gpu.utilization_pct, gpu.memory_used_bytes / _GIB, gpu.power_w, gpu.energy_counter_j]
                session.writer.writerow(row + [cpu_j])
                session.csv.flush()

    def begin_epoch(self, epoch: int) -> None:
        """Sample and start the figures of `epoch`."""
        with self._lock:
            self._epoch = epoch
            self.sample_once()
            self._epoch_start = replace(self._totals)
            self._epoch_peak = self._memory

    def end_epoch(self) -> dict:
        """Sample and return the figures of the epoch begun last."""
        with self._lock:
            self.sample_once()
            return self._figures(self._epoch_start, self._epoch_peak)

    def so_far(self) -> dict:
        """Sample and return the running fit's figures up to now (without a running fit, `summary`)."""
        with self._lock:
            if self._session is None:
                return self.summary
            self.sample_once()
            return self._figures(self._fit_start, self._fit_peak)

    def stop(self) -> dict:
        """Stop the thread, take a last sample, close files; return and keep the fit's `summary`.

        Safe to call at any time and more than once; without a running fit it returns the
        last summary.
        """
        session = self._session
        if session is None:
            return self.summary
        session.halt()
        with self._lock:
            self.sample_once()
            self.summary = self._figures(self._fit_start, self._fit_peak)
            self._session = None
        self._finalizer()
        return self.summary

    def _figures(self, since: "_Totals", memory_peak: float) -> dict:
        now = self._totals
        seconds = now.time - since.time
        energy = now.util_kwh - since.util_kwh
        return {
            "energy_kwh": energy,
            "energy_counter_kwh": (now.counter_j - since.counter_j) / _J_PER_KWH,
            "cpu_energy_kwh": (now.cpu_j - since.cpu_j) / _J_PER_KWH,
            "power_kw": energy / (seconds / 3600.0) if seconds > 0 else math.nan,
            "gpu_mem_peak_gib": memory_peak / _GIB,
            "rss_peak_gib": _rss_peak_gib(),
            "duration_s": seconds,
        }

    def _open_csv(self, num_gpus: int):
        if self.config.csv_path is None:
            return None
        path = Path(self.config.csv_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w", newline="", encoding="utf-8")
        header = ["elapsed_s", "epoch"]
        for i in range(num_gpus):
            header += [f"gpu{i}_util_pct", f"gpu{i}_mem_used_gib", f"gpu{i}_power_w", f"gpu{i}_energy_counter_j"]
        csv.writer(handle).writerow(header + ["cpu_energy_j"])
        return handle

    def _warn_once(self, nvml: NvmlReader, rapl: RaplReader, has_cpu: bool) -> None:
        problems = []
        if nvml.error:
            cpu = "CPU energy comes from RAPL" if has_cpu else f"cpu_energy_kwh is NaN too: {rapl.error}"
            problems.append(f"{nvml.error}: GPU energy and memory are NaN; {cpu}")
        elif self._counters and any(math.isnan(c) for c in self._counters):
            problems.append("a visible GPU has no NVML total-energy counter: energy_counter_kwh is NaN")
        if problems and not self._warned:
            self._warned = True
            warnings.warn(f"EnergySampler: {'; '.join(problems)}. Training goes on.", RuntimeWarning, stacklevel=3)


@dataclass
class _Totals:
    """Running integrals since the fit's first sample, at the time of the latest sample."""

    time: float
    util_kwh: float
    counter_j: float
    cpu_j: float


class _Session:
    """The resources of one fit; `close` is also the sampler's garbage-collection finaliser."""

    def __init__(self, nvml: NvmlReader, rapl: RaplReader, csv_handle):
        self.nvml = nvml
        self.rapl = rapl
        self.csv = csv_handle
        self.writer = csv.writer(csv_handle) if csv_handle is not None else None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def halt(self) -> None:
        self.stop.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()

    def close(self) -> None:
        self.halt()
        if self.csv is not None:
            self.csv.close()
        self.nvml.close()


def combine(figures: list[dict]) -> dict:
    """The figures of several fits (each as `summary`) as one: energies and durations add, peaks
    take the largest, power is the summed energy over the summed duration; {} for no fit.

    Example:
        >>> combine([first_process.summary, resumed_process.summary])["energy_kwh"]
    """
    if not figures:
        return {}
    out = {}
    for key in KEYS:
        values = [float(f.get(key, math.nan)) for f in figures]
        out[key] = functools.reduce(_peak, values) if key in PEAK_KEYS else sum(values)
    seconds = out["duration_s"]
    out["power_kw"] = out["energy_kwh"] / (seconds / 3600.0) if seconds > 0 else math.nan
    return out


def _peak(peak: float, value: float) -> float:
    return math.nan if math.isnan(peak) or math.isnan(value) else max(peak, value)


def _rss_peak_gib() -> float:
    """Peak resident memory of this process since it started (NaN where unknown)."""
    return lifetime_peak_rss_bytes() / _GIB
