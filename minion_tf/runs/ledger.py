"""What a run cost, over every process that worked on it (a resumed run has several).

Each process (each `run` call) appends its own entry to the run folder's `ledger.json` and
rewrites it, atomically, as its work finishes: the cache build, every epoch, the end. Each
entry holds that process's figures so far, so a process killed mid-run still counts its
work up to its last finished stage (its memory peaks per phase, `minion_tf.memory`, are recorded
at its end only). `totals` adds the entries up for run.json: seconds and energies add, peaks
(memory) take the largest, power is energy over duration again. The run folder's lock
(`runner.run`) keeps two processes from writing it at once.

Example:
    >>> begin(run_dir)                                      # a process starts on the run
    >>> record(run_dir, {"cache_s": 12.5})                  # after the cache build
    >>> record(run_dir, {"train_s": 30.1}, energy_so_far)   # after each epoch (`resume.LedgerCallback`)
    >>> record(run_dir, memory=peaks.summary())              # at the end (`memory.PhasePeaks`)
    >>> totals(run_dir)["timings"]["train_s"], totals(run_dir)["resumes"], totals(run_dir)["memory"]["train"]
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from minion_tf.callbacks.energy_sampler import combine
from minion_tf.errors import MinionError
from minion_tf.memory import combine_phases
from minion_tf.io import write_json

LEDGER = "ledger.json"


def _entries(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / LEDGER
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError:
        entries = None
    if not (isinstance(entries, list) and all(isinstance(e, dict) and {"pid", "timings", "energy"} <= set(e)
                                              for e in entries)):
        raise MinionError(f"{path}: not a cost ledger; delete it to go on (the cost so far is then lost)")
    return entries


def _new_entry() -> dict:
    return {"pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "timings": {}, "energy": {}}


def begin(run_dir: Path) -> None:
    """Open this process's entry (after those of the processes before it)."""
    write_json(Path(run_dir) / LEDGER, [*_entries(run_dir), _new_entry()])


def record(run_dir: Path, timings: dict | None = None, energy: dict | None = None, memory: dict | None = None) -> None:
    """Set figures of this process's entry: `timings` (seconds so far, by name), its energy so far and
    its memory peaks per phase (`PhasePeaks.summary()`)."""
    entries = _entries(run_dir)
    if not entries or entries[-1]["pid"] != os.getpid():
        entries.append(_new_entry())
    entries[-1]["timings"].update(timings or {})
    if energy:
        entries[-1]["energy"] = energy
    if memory:
        entries[-1]["memory"] = memory
    write_json(Path(run_dir) / LEDGER, entries)


def totals(run_dir: Path) -> dict:
    """{"timings": seconds summed over processes, "energy": combined figures, "memory": each phase's largest
    peaks, "resumes": processes - 1}, over the processes that finished some stage (one that failed at
    once did no work to count)."""
    entries = [e for e in _entries(run_dir) if e["timings"]]
    names = dict.fromkeys(name for e in entries for name in e["timings"])
    return {"timings": {name: sum(e["timings"].get(name, 0.0) for e in entries) for name in names},
            "energy": combine([e["energy"] for e in entries if e["energy"]]),
            "memory": combine_phases([e["memory"] for e in entries if e.get("memory")]),
            "resumes": max(len(entries) - 1, 0)}
