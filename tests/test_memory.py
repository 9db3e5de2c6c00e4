"""Private memory beside RSS: the /proc parsers on fake files, real readings, peaks per phase, the ledger."""
import gc
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minion_tf.memory import (KEYS, PhasePeaks, combine_phases, free_unused, parse_smaps_rollup, parse_status,
                              phase_line, read_memory)

MIB, GIB = 2**20, 2**30
on_linux = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="no /proc (not Linux)")

STATUS = """Name:\tpython
VmPeak:\t 4000000 kB
VmHWM:\t  {hwm} kB
VmRSS:\t  {rss} kB
RssAnon:\t  {anon} kB
RssFile:\t  300000 kB
Threads:\t12
"""
ROLLUP = """55e9104b8000-7ffd433f5000 ---p 00000000 00:00 0                          [rollup]
Rss:              879676 kB
Shared_Clean:     410244 kB
Private_Clean:       764 kB
Private_Dirty:    468668 kB
Anonymous:        468668 kB
"""


def fake_proc(folder: Path, anon: int, rss: int, hwm: int, rollup: str | None = ROLLUP) -> str:
    folder.mkdir(exist_ok=True)
    (folder / "status").write_text(STATUS.format(anon=anon, rss=rss, hwm=hwm))
    if rollup is not None:
        (folder / "smaps_rollup").write_text(rollup)
    return str(folder)


def test_parsers_read_kib_fields_as_bytes_and_nan_what_is_missing():
    assert parse_status(STATUS.format(anon=100, rss=300, hwm=500)) == {"private": 100 * 1024.0,
                                                                       "rss": 300 * 1024.0, "rss_hwm": 500 * 1024.0}
    assert parse_smaps_rollup(ROLLUP) == (764 + 468668) * 1024.0
    partial = parse_status("VmRSS:\t 2048 kB\nRssAnon:\t garbage\n")
    assert partial["rss"] == 2 * MIB and math.isnan(partial["private"]) and math.isnan(partial["rss_hwm"])
    assert math.isnan(parse_smaps_rollup("Private_Dirty: 4 kB\n"))  # Private_Clean missing


def test_a_fake_proc_folder_and_a_missing_one(tmp_path):
    proc = fake_proc(tmp_path / "p", anon=1024, rss=4096, hwm=8192)
    assert read_memory(proc) == {"private": MIB, "rss": 4 * MIB, "rss_hwm": 8 * MIB, "uss": (764 + 468668) * 1024.0}
    assert math.isnan(read_memory(proc, uss=False)["uss"])
    no_rollup = fake_proc(tmp_path / "old-kernel", anon=1024, rss=4096, hwm=8192, rollup=None)
    assert math.isnan(read_memory(no_rollup)["uss"]) and read_memory(no_rollup)["private"] == MIB
    nothing = read_memory(str(tmp_path / "no-proc"))  # macOS, Windows: NaN and nothing else
    assert set(nothing) == {"private", "uss", "rss", "rss_hwm"} and all(math.isnan(v) for v in nothing.values())


def test_phase_peaks_from_fake_readings_take_the_high_water_mark_reached_in_a_phase(tmp_path):
    folder = tmp_path / "p"
    peaks = PhasePeaks(proc=fake_proc(folder, anon=100, rss=200, hwm=200))
    peaks.enter("startup")
    fake_proc(folder, anon=300, rss=400, hwm=900)  # RSS went up to 900 kB between two samples
    peaks.sample_once()
    fake_proc(folder, anon=150, rss=250, hwm=900)
    peaks.enter("train")  # the same reading ends startup and begins train
    fake_proc(folder, anon=250, rss=350, hwm=900)  # no new high-water mark: train's RSS peak is sampled
    summary = peaks.stop()
    assert list(summary) == ["startup", "train"] and set(summary["train"]) == set(KEYS)
    kib = 1024 / GIB
    assert summary["startup"]["private_peak_gib"] == pytest.approx(300 * kib)
    assert summary["startup"]["rss_peak_gib"] == pytest.approx(900 * kib)
    assert summary["train"]["private_peak_gib"] == pytest.approx(250 * kib)
    assert summary["train"]["rss_peak_gib"] == pytest.approx(350 * kib)
    assert phase_line({"train": summary["train"], "startup": summary["startup"]}).startswith(
        "peak memory GiB, private / RSS: startup 0.00 / 0.00, train")


def test_without_proc_every_peak_is_nan(tmp_path):
    with PhasePeaks(interval_s=0.01, proc=str(tmp_path / "none")) as peaks:
        peaks.enter("train")
    assert all(math.isnan(v) for phase in peaks.summary().values() for v in phase.values())


@on_linux
def test_real_readings_private_within_rss_and_a_200_mb_array_raises_the_private_peak():
    now = read_memory()
    assert set(now) == {"private", "uss", "rss", "rss_hwm"}
    assert 0 < now["private"] <= now["rss"] <= now["rss_hwm"] and 0 < now["uss"] <= now["rss"]
    gc.collect()  # before the first phase: garbage a long test process frees here must not count in its peak
    with PhasePeaks(interval_s=0.01) as peaks:
        thread = peaks.thread
        before = read_memory()["private"]
        peaks.enter("big")
        block = np.ones(200 * MIB // 8)  # 200 MB, every page touched
        peaks.enter("after")
        del block
    assert not thread.is_alive()
    summary = peaks.summary()
    assert list(summary) == ["startup", "big", "after"]
    big = summary["big"]
    assert big["private_peak_gib"] * GIB - before >= 0.8 * 200 * MIB
    assert big["private_peak_gib"] <= big["rss_peak_gib"] and big["uss_peak_gib"] <= big["rss_peak_gib"]
    assert summary["startup"]["private_peak_gib"] * GIB < before + 50 * MIB


@on_linux
def test_the_thread_samples_between_phase_changes_and_ends_with_its_object():
    peaks = PhasePeaks(interval_s=0.01)
    peaks.start("idle")
    gc.collect()
    before = read_memory()["private"]
    block = np.ones(100 * MIB // 8)
    seen, deadline = peaks._samples, time.monotonic() + 10
    while peaks._samples < seen + 2 and time.monotonic() < deadline:  # two samples after the allocation
        time.sleep(0.01)
    assert peaks.summary()["idle"]["private_peak_gib"] * GIB - before >= 0.8 * block.nbytes
    thread = peaks.thread
    del peaks, block
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_free_unused_gives_freed_heap_memory_back():
    many = [np.ones(1000) for _ in range(50_000)]  # 400 MB in small blocks: the C heap, not mmap
    high = read_memory()["private"]
    del many
    free_unused()
    assert read_memory()["private"] < high - 300 * MIB


def test_the_ledger_keeps_each_phases_largest_peaks_over_processes(tmp_path):
    from minion_tf.runs import ledger

    first = {"startup": {"private_peak_gib": 1.0, "uss_peak_gib": 1.1, "rss_peak_gib": 2.0},
             "cache": {"private_peak_gib": 3.0, "uss_peak_gib": 3.1, "rss_peak_gib": 4.0}}
    second = {"startup": {"private_peak_gib": 1.5, "uss_peak_gib": float("nan"), "rss_peak_gib": 1.8},
              "train": {"private_peak_gib": 2.0, "uss_peak_gib": 2.1, "rss_peak_gib": 2.5}}
    ledger.begin(tmp_path)
    ledger.record(tmp_path, {"cache_s": 1.0}, memory=first)
    ledger.begin(tmp_path)
    ledger.record(tmp_path, {"train_s": 1.0}, memory=second)
    memory = ledger.totals(tmp_path)["memory"]
    assert memory == combine_phases([first, second])
    assert memory["startup"] == {"private_peak_gib": 1.5, "uss_peak_gib": 1.1, "rss_peak_gib": 2.0}
    assert memory["cache"] == first["cache"] and memory["train"] == second["train"]
    assert ledger.totals(tmp_path / "none")["memory"] == {}
