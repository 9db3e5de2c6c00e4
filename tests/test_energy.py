"""Energy sampler: exact kWh from scripted NVML readings, RAPL, CSV, warnings, thread lifetime."""
import csv
import gc
import math
import time
import warnings
from types import SimpleNamespace

import pytest

from minion_tf.callbacks import EnergyConfig, EnergySampler
from minion_tf.callbacks.energy_sampler import KEYS
from minion_tf.callbacks.rapl_reader import RaplReader
from minion_tf.errors import MinionError

GIB = 2**30


class FakeNvml:
    """Stands in for `pynvml`: readings come from `script[step][gpu]` = (util %, bytes, mW, mJ or None)."""

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    class NVMLError_LibraryNotFound(NVMLError):
        pass

    def __init__(self, script, uuids=None):
        self.script = script
        self.step = 0
        self.uuids = uuids or []
        self.reads = 0
        self.shutdowns = 0

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetCount(self):
        return len(self.script[0])

    def nvmlDeviceGetHandleByIndex(self, index):
        if index >= len(self.script[0]):
            raise self.NVMLError("invalid index")
        return index

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return self.uuids.index(uuid)

    def nvmlDeviceGetUtilizationRates(self, handle):
        self.reads += 1
        return SimpleNamespace(gpu=self.script[self.step][handle][0], memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=self.script[self.step][handle][1])

    def nvmlDeviceGetPowerUsage(self, handle):
        return self.script[self.step][handle][2]

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        millijoules = self.script[self.step][handle][3]
        if millijoules is None:
            raise self.NVMLError_NotSupported("not supported")
        return millijoules


class NoNvml(FakeNvml):
    def __init__(self):
        super().__init__([[]])

    def nvmlInit(self):
        raise self.NVMLError_LibraryNotFound("NVML Shared Library Not Found")


@pytest.fixture(autouse=True)
def _all_gpus_visible(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def _run(fake, times, plan, **kwargs):
    """Drive a sampler by hand: step i reads script[i] at clock times[i] and does plan[i]."""
    sampler = EnergySampler(nvml=fake, clock=lambda: times[fake.step], **kwargs)
    results = {"sampler": sampler}
    for step, action in enumerate(plan):
        fake.step = step
        if action == "start":
            sampler.start(background=False)
        elif action == "begin":
            sampler.begin_epoch(0)
        elif action == "sample":
            sampler.sample_once()
        elif action == "end":
            results["epoch"] = sampler.end_epoch()
        elif action == "stop":
            results["fit"] = sampler.stop()
    return results


# Two GPUs, six samples 10 s apart: (util %, memory bytes, power mW, energy counter mJ).
SCRIPT = [
    [(10, 1 * GIB, 100_000, 5_000_000), (0, 2 * GIB, 50_000, 9_000_000)],
    [(50, 3 * GIB, 250_000, 7_000_000), (20, 2 * GIB, 90_000, 9_500_000)],
    [(100, 6 * GIB, 400_000, 11_000_000), (40, 1 * GIB, 150_000, 10_400_000)],
    [(30, 2 * GIB, 200_000, 14_000_000), (60, 3 * GIB, 210_000, 11_800_000)],
    [(70, 4 * GIB, 300_000, 16_500_000), (80, 3 * GIB, 260_000, 13_600_000)],
    [(90, 9 * GIB, 380_000, 20_100_000), (10, 1 * GIB, 60_000, 14_000_000)],
]
PLAN = ["start", "begin", "sample", "sample", "end", "stop"]


def test_paper_formula_and_counter_give_exact_kwh_for_10s_samples(tmp_path):
    fake = FakeNvml(SCRIPT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = _run(fake, [0, 10, 20, 30, 40, 50], PLAN, rapl_root=tmp_path / "none")
    assert caught == []  # GPUs with counters: nothing to warn about
    util = [sum(gpu[0] for gpu in step) for step in SCRIPT]
    # Paper eq. 2: E = p0 / 36000 * sum u_i over 10 s samples; the epoch covers samples 2..4.
    assert results["epoch"]["energy_kwh"] == pytest.approx(0.4 / 36000 * sum(util[2:5]), rel=1e-12)
    assert results["fit"]["energy_kwh"] == pytest.approx(0.4 / 36000 * sum(util[1:6]), rel=1e-12)
    counter_mj = [sum(gpu[3] for gpu in step) for step in SCRIPT]
    assert results["epoch"]["energy_counter_kwh"] == pytest.approx((counter_mj[4] - counter_mj[1]) / 3.6e9, rel=1e-12)
    assert results["fit"]["energy_counter_kwh"] == pytest.approx((counter_mj[5] - counter_mj[0]) / 3.6e9, rel=1e-12)
    assert results["epoch"]["duration_s"] == 30 and results["fit"]["duration_s"] == 50
    assert results["epoch"]["power_kw"] == pytest.approx(results["epoch"]["energy_kwh"] / (30 / 3600), rel=1e-12)
    memory = [sum(gpu[1] for gpu in step) / GIB for step in SCRIPT]
    assert results["epoch"]["gpu_mem_peak_gib"] == max(memory[1:5]) == 7
    assert results["fit"]["gpu_mem_peak_gib"] == max(memory) == 10
    assert math.isnan(results["fit"]["cpu_energy_kwh"])
    assert results["fit"]["rss_peak_gib"] > 0
    assert set(results["fit"]) == set(KEYS) and results["sampler"].summary == results["fit"]
    assert fake.shutdowns == 1


def test_irregular_intervals_weight_each_sample_by_its_interval():
    fake = FakeNvml([[(u, GIB, 0, None)] for u in (0, 40, 80, 20)])
    with pytest.warns(RuntimeWarning, match="no NVML total-energy counter"):
        results = _run(fake, [100.0, 102.5, 110.0, 111.0], ["start", "sample", "sample", "stop"],
                       config=EnergyConfig(p0_kw=0.3), rapl_root="/nonexistent")
    expected = 0.3 * (0.4 * 2.5 + 0.8 * 7.5 + 0.2 * 1.0) / 3600
    assert results["fit"]["energy_kwh"] == pytest.approx(expected, rel=1e-12)
    assert results["fit"]["power_kw"] == pytest.approx(expected / (11.0 / 3600), rel=1e-12)
    assert math.isnan(results["fit"]["energy_counter_kwh"])


def test_csv_has_one_row_per_sample_with_every_gpu(tmp_path):
    fake = FakeNvml(SCRIPT)
    path = tmp_path / "sub" / "energy.csv"
    _run(fake, [0, 10, 20, 30, 40, 50], PLAN, config=EnergyConfig(csv_path=path))
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 6
    assert [r["epoch"] for r in rows] == ["", "0", "0", "0", "0", "0"]
    assert [float(r["elapsed_s"]) for r in rows] == [0, 10, 20, 30, 40, 50]
    assert float(rows[2]["gpu0_util_pct"]) == 100 and float(rows[2]["gpu1_mem_used_gib"]) == 1
    assert float(rows[3]["gpu1_power_w"]) == 210 and float(rows[5]["gpu0_energy_counter_j"]) == 20_100
    assert "cpu_energy_j" in rows[0]


def test_cuda_visible_devices_selects_gpus(monkeypatch):
    fake = FakeNvml(SCRIPT, uuids=["GPU-aaa", "GPU-bbb"])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbb")
    only_second = _run(fake, [0, 10, 20, 30, 40, 50], PLAN)["fit"]
    assert only_second["energy_kwh"] == pytest.approx(0.4 / 36000 * sum(s[1][0] for s in SCRIPT[1:]), rel=1e-12)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,7,1")  # CUDA stops at the first invalid entry
    only_first = _run(fake, [0, 10, 20, 30, 40, 50], PLAN)["fit"]
    assert only_first["energy_kwh"] == pytest.approx(0.4 / 36000 * sum(s[0][0] for s in SCRIPT[1:]), rel=1e-12)


def test_without_nvml_figures_are_nan_with_exactly_one_warning(tmp_path):
    sampler = EnergySampler(nvml=NoNvml(), clock=iter(range(100)).__next__, rapl_root=tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # two fits, one warning
            sampler.start(background=False)
            sampler.begin_epoch(0)
            epoch = sampler.end_epoch()
            fit = sampler.stop()
    assert len(caught) == 1 and issubclass(caught[0].category, RuntimeWarning)
    message = str(caught[0].message)
    assert "NVML Shared Library Not Found" in message and "RAPL unreadable" in message
    for figures in (epoch, fit):
        for key in ("energy_kwh", "energy_counter_kwh", "cpu_energy_kwh", "power_kw", "gpu_mem_peak_gib"):
            assert math.isnan(figures[key]), key
    assert fit["duration_s"] == 3 and fit["rss_peak_gib"] > 0


def _write_zone(root, zone, name, energy_uj, max_uj=1000_000_000):
    path = root / zone
    path.mkdir(parents=True, exist_ok=True)
    (path / "name").write_text(name + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")


def test_rapl_packages_are_summed_with_wrap_around(tmp_path):
    _write_zone(tmp_path, "intel-rapl:0", "package-0", 999_000_000)
    _write_zone(tmp_path, "intel-rapl:0:0", "core", 5)  # part of package 0, not added
    _write_zone(tmp_path, "intel-rapl:1", "package-1", 10_000_000)
    _write_zone(tmp_path, "intel-rapl:2", "psys", 0)  # platform domain, not a CPU package
    fake_clock = iter([0.0, 3600.0]).__next__
    sampler = EnergySampler(nvml=NoNvml(), clock=fake_clock, rapl_root=tmp_path)
    with pytest.warns(RuntimeWarning, match="CPU energy comes from RAPL"):
        sampler.start(background=False)
    # Package 0 wraps from 999 J past 1000 J to 2 J (+3 J); package 1 adds 7 J; sub-zone and psys ignored.
    _write_zone(tmp_path, "intel-rapl:0", "package-0", 2_000_000)
    _write_zone(tmp_path, "intel-rapl:1", "package-1", 17_000_000)
    _write_zone(tmp_path, "intel-rapl:0:0", "core", 900_000_000)
    _write_zone(tmp_path, "intel-rapl:2", "psys", 900_000_000)
    fit = sampler.stop()
    assert fit["cpu_energy_kwh"] == pytest.approx(10.000001 / 3.6e6, rel=1e-12)
    assert math.isnan(fit["energy_kwh"])


def test_unreadable_rapl_gives_nan(tmp_path):
    _write_zone(tmp_path, "intel-rapl:0", "package-0", 1)
    reader = RaplReader(tmp_path)
    assert reader.open() and reader.read_joules() == 0.0
    (tmp_path / "intel-rapl:0" / "energy_uj").unlink()  # as unreadable as a root-only file, even for root
    assert math.isnan(reader.read_joules())
    assert not reader.open() and "RAPL unreadable" in reader.error and math.isnan(reader.read_joules())


def test_background_thread_samples_and_stops(tmp_path):
    fake = FakeNvml([[(50, GIB, 0, 0)]])
    sampler = EnergySampler(EnergyConfig(interval_s=0.001), nvml=fake)
    sampler.start()
    thread = sampler.thread
    assert thread.daemon and thread.is_alive()
    _wait_until(lambda: fake.reads >= 20)
    fit = sampler.stop()
    assert not thread.is_alive() and sampler.thread is None
    reads = fake.reads
    assert sampler.stop() is fit and fake.reads == reads  # idempotent, nothing sampled after stop
    assert fit["energy_kwh"] == pytest.approx(0.4 * 0.5 * fit["duration_s"] / 3600, rel=1e-9)


def test_restart_and_garbage_collection_end_the_thread():
    fake = FakeNvml([[(50, GIB, 0, 0)]])
    sampler = EnergySampler(EnergyConfig(interval_s=3600), nvml=fake)
    sampler.start()  # a fit that raises never calls stop()
    first = sampler.thread
    sampler.start()
    assert not first.is_alive() and sampler.thread.is_alive()
    second = sampler.thread
    del sampler
    gc.collect()
    second.join(timeout=30)
    assert not second.is_alive()
    assert fake.shutdowns == 2


def test_sampling_before_start_and_bad_config_raise():
    with pytest.raises(MinionError, match="start"):
        EnergySampler(nvml=NoNvml()).sample_once()
    with pytest.raises(MinionError, match="interval_s"):
        EnergyConfig(interval_s=0)
    with pytest.raises(MinionError, match="p0_kw"):
        EnergyConfig(p0_kw=float("nan"))


def _wait_until(condition, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)
