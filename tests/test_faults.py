"""Faults a new user meets, each one clear line with nothing lost: two runs on one folder, two
builders of one cache, a full disk, a manifest that is not one, the cost of a resumed run."""
import errno
import re
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import minion_tf.cache as cache_mod
from minion_tf.cache import build_cache, open_cache
from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1"}
TEXTS = [f"tweet number {i} " + "so much fun " * (i % 9) for i in range(60)]
LABELS = [i % 2 for i in range(60)]


def small(tiny_encoder_dir, tweet_dir, out, **kw):
    base = dict(model="minion", options={"hidden": 8}, epochs=2, batch_size=32, encoder=str(tiny_encoder_dir),
                data=str(tweet_dir), max_examples=300, max_length=16, out=str(out))
    return RunConfig(**{**base, **kw})


def leftovers(folder: Path) -> list[Path]:
    return list(Path(folder).rglob(".tmp-*"))


def python(script: str, **values) -> subprocess.Popen:
    """Another process running `script` (formatted with `values`), stdout piped, stdin kept open."""
    code = textwrap.dedent(script).format(root=str(ROOT), **{k: str(v) for k, v in values.items()})
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=ENV)


def test_a_second_run_on_a_folder_in_use_prints_one_line(tiny_encoder_dir, tweet_dir, tmp_path):
    config = small(tiny_encoder_dir, tweet_dir, tmp_path, epochs=1)
    holder = python("""
        import sys
        sys.path.insert(0, {root!r})
        from minion_tf.io import folder_lock
        with folder_lock({folder!r}):
            print("held", flush=True)
            sys.stdin.read()
    """, folder=config.run_dir())
    assert holder.stdout.readline() == "held\n"
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "experiments" / "run.py"), "--model", "minion", "--hidden", "8",
             "--epochs", "1", "--batch-size", "32", "--encoder", str(tiny_encoder_dir), "--data", str(tweet_dir),
             "--max-examples", "300", "--max-length", "16", "--out", str(tmp_path)],
            capture_output=True, text=True, timeout=300, env=ENV)
    finally:
        holder.communicate("")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (f"error: {config.run_dir()} is in use by another process "
                                              f"(pid {holder.pid}); wait for it or use another --out")
    assert not (config.run_dir() / "run.json").exists()


def test_a_second_cache_builder_waits_then_opens_the_finished_cache(tiny_encoder_dir, tmp_path, monkeypatch, capfd):
    from minion_tf.backbones import load_backbone

    directory = tmp_path / "cache"
    builder = python("""
        import sys, time
        sys.path.insert(0, {root!r})
        import minion_tf.cache as cache
        from minion_tf.backbones import load_backbone
        real_pad = cache.pad_batch

        def slow_pad(seqs, pad_id):
            print("building", flush=True)
            time.sleep(0.2)
            return real_pad(seqs, pad_id)

        cache.pad_batch = slow_pad
        texts = [f"tweet number {{i}} " + "so much fun " * (i % 9) for i in range(60)]
        cache.build_cache(load_backbone({encoder!r}), texts, {directory!r}, max_length=32, batch_tokens=256,
                          progress=False)
    """, encoder=tiny_encoder_dir, directory=directory)
    backbone = load_backbone(str(tiny_encoder_dir))
    assert builder.stdout.readline() == "building\n"

    def must_not_encode(*args):
        raise AssertionError("the waiting process encoded texts itself")

    monkeypatch.setattr(cache_mod, "pad_batch", must_not_encode)
    cache = build_cache(backbone, TEXTS, directory, max_length=32, batch_tokens=256, progress=False)
    assert builder.wait() == 0 and cache.manifest["complete"] and len(cache) == 60
    assert f"{directory} is in use by another process (pid {builder.pid}); waiting for it\n" in capfd.readouterr().err


def test_a_cache_too_big_for_the_disk_is_refused_before_building(tiny_encoder_dir, tweet_dir, tmp_path, monkeypatch,
                                                                 capsys):
    from minion_tf.runs.runner import run

    usage = namedtuple("usage", "total used free")
    real_usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(real_usage(path).total, 0, 2048))
    config = small(tiny_encoder_dir, tweet_dir, tmp_path)
    with pytest.raises(MinionError) as caught:
        run(config)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'cache'}: the hidden-state cache needs about ")
    assert message.endswith(", only 2.0 KiB free; free some space, put the cache on a larger disk (--cache-dir), "
                            "store it in int8 (--cache-dtype int8, about half the bytes) or stream the states "
                            "(--no-cache)")
    assert not list(tmp_path.rglob("manifest.json"))
    size = re.search(r"hidden-state cache \(float16\): ([\d,]+) tokens x ([\d,]+) bytes = (.*) in (.*) \(2\.0 KiB free\)",
                     capsys.readouterr().out)  # the size was printed before the refusal
    assert size is not None and size.group(4) == str(tmp_path / "cache")
    assert message.split("needs about ")[1].startswith(size.group(3))


def test_a_disk_full_mid_shard_is_one_line_leaves_no_temporary_and_resumes(tiny_backbone, tmp_path, monkeypatch):
    directory = tmp_path / "c"
    real_save = np.save

    def save_then_fill_the_disk(path, array):
        if str(path).endswith(".states.npy") and "shard-00001" in str(path):
            Path(path).write_bytes(b"\x93NUMPY half a shard")
            raise OSError(f"Not enough free space to write {array.nbytes} bytes after offset 128")  # numpy's own
        real_save(path, array)

    monkeypatch.setattr(np, "save", save_then_fill_the_disk)
    with pytest.raises(MinionError) as caught:
        build_cache(tiny_backbone, TEXTS, directory, max_length=32, batch_tokens=256, shard_mb=0.05,
                    progress=False)
    message = str(caught.value)
    assert message.startswith(f"{directory}: disk full writing shard-00001.states.npy (needs ")
    assert "free); free some space or write to another disk" in message and "\n" not in message
    assert not leftovers(directory) and not (directory / "shard-00001.states.npy").exists()
    monkeypatch.setattr(np, "save", real_save)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert [s["shard"] for s in manifest["shards"]] == [0] and not manifest["complete"]
    assert build_cache(tiny_backbone, TEXTS, directory, max_length=32, batch_tokens=256, shard_mb=0.05,
                       progress=False).manifest["complete"]


def test_a_disk_full_during_a_checkpoint_keeps_the_last_one(tmp_path, monkeypatch):
    import tensorflow as tf

    from minion_tf.checkpoints import restore_progress, save_progress

    weights = tf.Variable([1.0, 2.0])
    save_progress(tmp_path, {"w": weights}, 1, [{"loss": 1.0}])
    real_write = tf.train.Checkpoint.write

    def write_then_fill_the_disk(self, prefix, options=None):
        Path(prefix + "_temp").mkdir()
        Path(prefix + "_temp", "part-00000-of-00001.data-00000-of-00001").write_bytes(b"partial")
        raise tf.errors.ResourceExhaustedError(None, None, f"{prefix}_temp; No space left on device")

    monkeypatch.setattr(tf.train.Checkpoint, "write", write_then_fill_the_disk)
    weights.assign([3.0, 4.0])
    with pytest.raises(MinionError, match=rf"^{tmp_path}: disk full writing epoch-2 \(needs 8 B, .* free\); free "):
        save_progress(tmp_path, {"w": weights}, 2, [{"loss": 1.0}, {"loss": 0.5}])
    monkeypatch.setattr(tf.train.Checkpoint, "write", real_write)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-1.data-00000-of-00001", "epoch-1.index",
                                                          "progress.json"]
    assert restore_progress(tmp_path, {"w": weights}) == (1, [{"loss": 1.0}]) and weights.numpy().tolist() == [1, 2]


@pytest.mark.parametrize("manifest", ["[]", '"cache"', '{"shards": [], "complete": true}', '{"spec": {}}'])
def test_a_manifest_that_is_not_one_is_one_line(tiny_backbone, tmp_path, manifest):
    directory = tmp_path / "c"
    directory.mkdir()
    (directory / "manifest.json").write_text(manifest)
    expected = (f"{directory / 'manifest.json'}: not a cache manifest (no spec or shards); "
                f"delete {directory} to rebuild")
    for attempt in (lambda: open_cache(directory),
                    lambda: build_cache(tiny_backbone, TEXTS, directory, max_length=32, progress=False)):
        with pytest.raises(MinionError) as caught:
            attempt()
        assert str(caught.value) == expected


def test_a_resumed_run_records_the_cost_of_every_process(tiny_encoder_dir, tweet_dir, tmp_path,
                                                         cut_after_first_epoch):
    from minion_tf.runs.runner import run

    config = small(tiny_encoder_dir, tweet_dir, tmp_path, model="read")  # the ledger is the runner's, any model's
    cut_after_first_epoch(config)
    (first,) = json.loads((config.run_dir() / "ledger.json").read_text())
    assert first["timings"]["cache_s"] > 0 and first["timings"]["train_s"] > 0 and first["energy"]["duration_s"] > 0
    record = run(config)
    ledger = json.loads((config.run_dir() / "ledger.json").read_text())
    second = ledger[1]
    timings = record["timings"]
    assert record["resumes"] == 1 and len(ledger) == 2 and first == ledger[0]
    assert timings["train_s"] == pytest.approx(first["timings"]["train_s"] + second["timings"]["train_s"])
    assert timings["train_s"] >= sum(e["epoch_s"] for e in record["epochs"])  # epoch 1 ran in the first process
    for name in ("cache_s", "total_s"):
        assert timings[name] == pytest.approx(first["timings"][name] + second["timings"][name])
    assert timings["test_s"] == second["timings"]["test_s"]  # only the second process tested
    assert record["energy"]["duration_s"] == pytest.approx(first["energy"]["duration_s"]
                                                           + second["energy"]["duration_s"])
    assert record["energy"]["rss_peak_gib"] == max(first["energy"]["rss_peak_gib"], second["energy"]["rss_peak_gib"])
    assert run(config)["resumes"] == 1  # a finished run is read back, not redone


def test_the_ledger_adds_seconds_and_energy_keeps_peaks_and_skips_idle_processes(tmp_path):
    from minion_tf.runs import ledger

    ledger.begin(tmp_path)  # a process that failed before finishing anything
    ledger.begin(tmp_path)
    ledger.record(tmp_path, {"cache_s": 3.0})
    ledger.record(tmp_path, {"train_s": 1.0}, {"energy_kwh": 0.1, "duration_s": 3600.0, "rss_peak_gib": 2.0})
    ledger.begin(tmp_path)
    ledger.record(tmp_path, {"train_s": 2.0, "test_s": 0.5}, {"energy_kwh": 0.3, "duration_s": 3600.0,
                                                              "rss_peak_gib": 1.5})
    cost = ledger.totals(tmp_path)
    assert cost["resumes"] == 1 and cost["timings"] == {"cache_s": 3.0, "train_s": 3.0, "test_s": 0.5}
    energy = cost["energy"]
    assert energy["energy_kwh"] == pytest.approx(0.4) and energy["duration_s"] == 7200.0
    assert energy["rss_peak_gib"] == 2.0 and energy["power_kw"] == pytest.approx(0.2)
    assert np.isnan(energy["gpu_mem_peak_gib"])  # never measured


def test_a_full_disk_met_by_any_writer_is_one_line(capsys):
    from minion_tf.runs.cli import guarded

    def full():
        raise OSError(errno.ENOSPC, "No space left on device", "runs/x/energy.csv")

    assert guarded(full) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: disk full") and "energy.csv" in err and len(err.splitlines()) == 1
    with pytest.raises(ValueError):  # anything else is not hidden
        guarded(lambda: (_ for _ in ()).throw(ValueError("a bug")))
