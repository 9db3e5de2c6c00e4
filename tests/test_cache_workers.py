"""A hidden-state cache built by two worker processes at once (`build_cache(..., worker=(i, 2))`) is
byte-identical to one process's build; a worker that dies leaves its shards unbuilt, worker 0 gives up in
one line, and the rerun builds only the missing shards."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [f"tweet number {i} " + "so much fun " * (i % 9) for i in range(60)]

BUILD = """
import json, os, sys
sys.path.insert(0, {root!r})
from minion_tf.process import setup_command
setup_command()
import minion_tf.cache as cache
from minion_tf.backbones import load_backbone
from minion_tf.errors import MinionError
encoder, directory, index, die_after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if die_after >= 0:  # this worker dies once it has written `die_after` shards' states
    real, written = cache._save_npy, []
    def save_then_die(path, array):
        if str(path).endswith(".states.npy"):
            if len(written) == die_after:
                os._exit(9)
            written.append(path)
        return real(path, array)
    cache._save_npy = save_then_die
try:
    c = cache.build_cache(load_backbone(encoder), json.loads(os.environ["TEXTS"]), directory, max_length=32,
                          batch_tokens=256, shard_mb=0.02, progress=False, worker=(index, 2))
    print("OK", len(c))
except MinionError as err:
    print("error:", err)
    sys.exit(2)
"""


def _start(encoder, directory, index, die_after=-1, timeout=120):
    """Worker `index` of 2 building the cache of TEXTS in `directory`, in its own process; it gives up after
    `timeout` seconds without a new shard (the other worker's start-up counts: this machine may be loaded)."""
    env = {**os.environ, "TEXTS": json.dumps(TEXTS), "MINION_WORKER_TIMEOUT": str(timeout)}
    return subprocess.Popen([sys.executable, "-c", BUILD.format(root=str(ROOT)), str(encoder), str(directory),
                             str(index), str(die_after)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(procs):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        outs.append((p.returncode, out, err))
    return outs


def _files(directory: Path) -> dict:
    """Every file of a cache and its bytes; the lock file one process's build leaves is not part of it."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.name != ".lock"}


def test_two_workers_build_the_cache_one_process_builds_and_a_dead_worker_is_rebuilt(tiny_encoder_dir, tmp_path):
    from minion_tf.backbones import load_backbone
    from minion_tf.cache import build_cache

    build_cache(load_backbone(str(tiny_encoder_dir)), TEXTS, tmp_path / "one", max_length=32, batch_tokens=256,
                shard_mb=0.02, progress=False)  # one process
    single = _files(tmp_path / "one")
    manifest = json.loads(single["manifest.json"])
    assert manifest["complete"] and manifest["num_shards"] >= 5 and len(range(1, manifest["num_shards"], 2)) <= 5

    results = _finish([_start(tiny_encoder_dir, tmp_path / "two", i) for i in range(2)])
    assert [r[0] for r in results] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    assert _files(tmp_path / "two") == single  # the same shards and the same manifest, byte for byte

    # worker 1 dies after one shard: worker 0 builds its own, waits, then gives up in one line
    broken = tmp_path / "broken"
    results = _finish([_start(tiny_encoder_dir, broken, 0, timeout=20),
                       _start(tiny_encoder_dir, broken, 1, die_after=1)])
    assert results[1][0] == 9 and results[0][0] == 2
    error = [line for line in results[0][1].splitlines() if line.startswith("error:")]
    ones = [i for i in range(manifest["num_shards"]) if i % 2 == 1]
    def line(missing):
        return (f"error: {broken}: shards {', '.join(map(str, missing))} (of workers 1) did not appear within 20 s; "
                "a worker stopped? Rerun every worker to build the missing shards")

    assert error in ([line(ones[1:])], [line(ones)]), results[0][1][-2000:]  # ones: worker 1 was slow to start
    assert not (broken / "manifest.json").exists()
    kept = {name: (broken / name).stat().st_mtime_ns for name in os.listdir(broken) if name.endswith(".states.npy")}
    assert len(kept) == manifest["num_shards"] - len(ones) + 1  # worker 0's shards, and worker 1's first

    results = _finish([_start(tiny_encoder_dir, broken, i) for i in range(2)])
    assert [r[0] for r in results] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    assert all((broken / name).stat().st_mtime_ns == t for name, t in kept.items())  # only the missing ones built
    assert _files(broken) == single


def test_workers_repair_a_damaged_finished_cache_and_none_reads_it_before(tiny_backbone, tmp_path, monkeypatch):
    from minion_tf.cache import build_cache
    from minion_tf.errors import MinionError

    def build(worker=None):
        return build_cache(tiny_backbone, TEXTS, tmp_path / "c", max_length=32, batch_tokens=256, shard_mb=0.02,
                           progress=False, worker=worker)

    build()
    good = _files(tmp_path / "c")
    shard = json.loads(good["manifest.json"])["shards"][0]  # worker 0's
    (tmp_path / "c" / shard["states"]).write_bytes(good[shard["states"]][:-7] + b"damaged")
    monkeypatch.setenv("MINION_WORKER_TIMEOUT", "2")
    # worker 1 has nothing to build, but the manifest it finds lists the damaged shard: it waits for the repair
    with pytest.raises(MinionError, match="the merged manifest did not appear within 2 s; worker 0 wrote nothing in "
                                          "this folder: not started, stopped, or --cache-dir is not on a file "
                                          "system every worker shares. Rerun"):
        build(worker=(1, 2))
    build(worker=(0, 2))  # repairs its shard, finds worker 1's list, merges
    assert _files(tmp_path / "c") == good
    assert len(build(worker=(1, 2))) == len(TEXTS)  # now it opens the repaired cache
    assert _files(tmp_path / "c") == good
