"""This process's memory: private (anonymous) memory beside RSS, and their peaks per phase of a run.

RSS (resident set size) counts every page of the process that is in RAM, file-backed ones too:
the shared libraries, and the memory-mapped shards of the hidden-state cache, which the kernel
drops and reads again as it needs. What the process itself holds is its private memory:

- ``private``: ``RssAnon`` of ``/proc/self/status``, the resident anonymous pages (Python objects,
  numpy arrays, tensors, TensorFlow's memory pools); 10 µs to read;
- ``uss``: the unique set size, ``Private_Clean + Private_Dirty`` of ``/proc/self/smaps_rollup``
  (Linux 4.14 and later): every page no other process maps, so it also counts file pages that only
  this process maps (cache shards no one else reads); about 5 ms to read in a TensorFlow process;
- ``rss``: ``VmRSS``, and ``rss_hwm``: ``VmHWM``, the highest RSS since the process started.

Figures are bytes; a figure that cannot be read is NaN and nothing else happens (no warning, no
error). Without ``/proc`` (macOS, Windows) every figure is NaN: macOS has no file to read, its
private footprint needs a Mach ``task_info`` call that is not made here; `lifetime_peak_rss_bytes`
(``ru_maxrss``) works there too.

Note on TensorFlow: with oneDNN (the default on x86) its CPU allocator keeps freed tensors in its
own pool for reuse, so freeing a model makes room for later tensors rather than lowering
``private``; with ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1`` freed tensors go back to malloc, and
`free_unused` hands them to the system. Measured at the release of MiniLM after a 2,000-tweet
cache build: private 1.10 -> 1.03 GiB with the pool, 0.77 -> 0.40 GiB with the system allocator.

Example:
    >>> read_memory()["private"] / 2**30            # GiB of anonymous memory now
    >>> with PhasePeaks() as peaks:                  # a thread samples every 0.25 s
    ...     load_encoder(); peaks.enter("cache"); build_cache()
    >>> peaks.summary()["cache"]["private_peak_gib"]
"""
from __future__ import annotations

import math
import sys
import threading
import weakref

PROC = "/proc/self"
PHASES = ("startup", "cache", "train", "test")  # a run's phases, in order (see `runs.runner`)
KEYS = ("private_peak_gib", "uss_peak_gib", "rss_peak_gib")
_GIB = 2.0**30
_STATUS_FIELDS = {"RssAnon": "private", "VmRSS": "rss", "VmHWM": "rss_hwm"}


def parse_status(text: str) -> dict:
    """{"private", "rss", "rss_hwm"} in bytes from the text of ``/proc/PID/status`` (NaN if absent)."""
    out = dict.fromkeys(_STATUS_FIELDS.values(), math.nan)
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in _STATUS_FIELDS:
            out[_STATUS_FIELDS[name]] = _kib(value)
    return out


def parse_smaps_rollup(text: str) -> float:
    """USS in bytes, ``Private_Clean + Private_Dirty`` of ``/proc/PID/smaps_rollup`` (NaN if either is absent)."""
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("Private_Clean", "Private_Dirty"):
            found[name] = _kib(value)
    return found["Private_Clean"] + found["Private_Dirty"] if len(found) == 2 else math.nan


def _kib(value: str) -> float:
    """Bytes of a ``"  1234 kB"`` field (NaN if it is not one)."""
    number, _, unit = value.strip().partition(" ")
    try:
        return float(int(number) * 1024) if unit.strip() == "kB" else math.nan
    except ValueError:
        return math.nan


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def read_memory(proc: str = PROC, uss: bool = True) -> dict:
    """{"private", "uss", "rss", "rss_hwm"} of the process in bytes, NaN where unknown; `uss=False`
    skips smaps_rollup (NaN), the slow read. `proc` is the process's folder (tests give a fake one)."""
    status = _read(f"{proc}/status")
    out = parse_status(status) if status is not None else dict.fromkeys(_STATUS_FIELDS.values(), math.nan)
    rollup = _read(f"{proc}/smaps_rollup") if uss else None
    out["uss"] = parse_smaps_rollup(rollup) if rollup is not None else math.nan
    return out


def lifetime_peak_rss_bytes() -> float:
    """Peak resident memory of this process since it started, from ``ru_maxrss`` (NaN where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return math.nan
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak * (1 if sys.platform == "darwin" else 1024))


def free_unused() -> None:
    """Collect garbage (Keras models are reference cycles), then hand the C heap's free pages back to
    the system (glibc's ``malloc_trim``; on other C libraries only the collection). TensorFlow's own
    pool (oneDNN's allocator, the default) keeps its freed blocks for its next tensors."""
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):  # musl and others: no malloc_trim
            pass


def _max(peak: float, value: float) -> float:
    """The larger; a NaN reading leaves the peak as it was."""
    return value if math.isnan(peak) else peak if math.isnan(value) else max(peak, value)


class PhasePeaks:
    """Peak private memory, USS and RSS of each phase of a run ("startup", "cache", "train", "test").

    A daemon thread samples ``/proc/self/status`` every `interval_s` (and smaps_rollup every
    `uss_every`-th time); `enter` samples too, at the end of one phase and the start of the next,
    so a phase's figures cover exactly its time. Peaks between two samples are missed, except RSS:
    when ``VmHWM`` rose during a phase, the phase's RSS peak is that exact high-water mark. A phase
    entered again keeps its earlier peaks. The thread holds only a weak reference: it ends on
    `stop()`, when the object is garbage-collected, and at exit.

    Example:
        >>> peaks = PhasePeaks(); peaks.start("startup")
        >>> ...; peaks.enter("train"); ...
        >>> peaks.stop()["train"]    # {"private_peak_gib": ..., "uss_peak_gib": ..., "rss_peak_gib": ...}
    """

    def __init__(self, interval_s: float = 0.25, uss_every: int = 8, proc: str = PROC):
        self.interval_s, self.uss_every, self.proc = interval_s, max(1, int(uss_every)), proc
        self._lock = threading.Lock()
        self._peaks: dict[str, dict] = {}
        self._phase: str | None = None
        self._hwm_at_entry = math.nan
        self._samples = 0
        self._stop: threading.Event | None = None
        self.thread: threading.Thread | None = None

    def start(self, phase: str = "startup") -> None:
        """Begin `phase` and the background sampling."""
        self.stop()
        self.enter(phase)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=sample_forever, args=(weakref.ref(self), self._stop, self.interval_s),
                                       name="minion-memory-sampler", daemon=True)
        self.thread.start()

    def enter(self, phase: str) -> None:
        """End the current phase with a sample and begin `phase` with the same reading."""
        with self._lock:
            reading = self._sample(uss=True)
            self._phase = phase
            self._peaks.setdefault(phase, dict.fromkeys(("private", "uss", "rss"), math.nan))
            self._hwm_at_entry = reading["rss_hwm"]
            self._add(reading)

    def sample_once(self) -> None:
        """Take one reading into the current phase's peaks."""
        with self._lock:
            self._sample(uss=self._samples % self.uss_every == 0)

    def stop(self) -> dict:
        """Stop the thread after a last reading; return `summary()`. Safe to call at any time."""
        if self._stop is not None:
            self._stop.set()
            if self.thread is not threading.current_thread():
                self.thread.join()
            self._stop = None
        if self._phase is not None:
            with self._lock:
                self._sample(uss=True)
        return self.summary()

    def summary(self) -> dict:
        """{phase: {"private_peak_gib", "uss_peak_gib", "rss_peak_gib"}} in the order the phases began."""
        with self._lock:
            return {phase: {f"{k}_peak_gib": v / _GIB for k, v in peaks.items()} for phase, peaks in self._peaks.items()}

    def _sample(self, uss: bool) -> dict:
        reading = read_memory(self.proc, uss=uss)
        self._samples += 1
        if self._phase is not None:
            self._add(reading)
        return reading

    def _add(self, reading: dict) -> None:
        peaks = self._peaks[self._phase]
        for key in ("private", "uss", "rss"):
            peaks[key] = _max(peaks[key], reading[key])
        if reading["rss_hwm"] > self._hwm_at_entry:  # the process's highest RSS so far was reached in this phase
            peaks["rss"] = _max(peaks["rss"], reading["rss_hwm"])

    def __enter__(self):
        if self._stop is None:  # not sampling yet
            self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()


def sample_forever(target_ref, stop: threading.Event, interval_s: float) -> None:
    """A sampler thread's loop: `target_ref()` (a weak reference).sample_once() every `interval_s` until
    `stop` is set or the target is gone (so a forgotten sampler does not keep its thread alive)."""
    while not stop.wait(interval_s):
        target = target_ref()
        if target is None:
            return
        target.sample_once()
        del target


def combine_phases(summaries: list[dict]) -> dict:
    """Several processes' `summary()`s (a resumed run) as one: each phase's peaks are the largest.

    Example:
        >>> combine_phases([first_process, resumed_process])["train"]["private_peak_gib"]
    """
    out: dict[str, dict] = {}
    for summary in summaries:
        for phase, peaks in summary.items():
            mine = out.setdefault(phase, dict.fromkeys(KEYS, math.nan))
            for key in KEYS:
                mine[key] = _max(mine[key], float(peaks.get(key, math.nan)))
    return out


def phase_line(summary: dict) -> str:
    """``peak memory GiB, private / RSS: startup 0.45 / 0.91, cache ...`` (one line for a run's output;
    the phases of `PHASES` first, in their order)."""
    order = sorted(summary, key=lambda phase: PHASES.index(phase) if phase in PHASES else len(PHASES))
    parts = [f"{phase} {summary[phase]['private_peak_gib']:.2f} / {summary[phase]['rss_peak_gib']:.2f}"
             for phase in order]
    return "peak memory GiB, private / RSS: " + ", ".join(parts)
