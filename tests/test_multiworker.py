"""`--strategy multiworker`: two worker processes on 127.0.0.1 (free ports, TF_CONFIG as TensorFlow documents
it) run `experiments/run.py` together; the chief writes the one run folder, the other works in a scratch folder
that goes when it ends; the two build the shared hidden-state cache together; a worker killed mid-run makes
the chief fail in one line, and the rerun resumes."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minion_tf.distribute import is_chief, worker_position, worker_task
from minion_tf.errors import MinionError

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 400  # seconds each worker process may take


def _ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _launch(flags: list[str], tmp_path: Path, tag: str) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _ports(2)]}
    procs = []
    for index in range(2):
        scratch = tmp_path / f"scratch{index}"
        scratch.mkdir(exist_ok=True)
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "MINION_WORKER_TIMEOUT": "60", "TMPDIR": str(scratch)}
        log = open(tmp_path / f"{tag}-worker{index}.log", "w")
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "experiments" / "run.py"), *flags], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
    return procs


def _wait(procs, tmp_path: Path, tag: str) -> list[str]:
    try:
        codes = [p.wait(timeout=LIMIT) for p in procs]
    finally:
        for p in procs:
            p.kill()
    logs = [(tmp_path / f"{tag}-worker{i}.log").read_text() for i in range(len(procs))]
    return codes, logs


def _flags(tiny_encoder_dir, tweet_dir, out, epochs):
    """One batch of all 240 train tweets a step: one shape to trace (each new shape costs a collective trace)."""
    return ["--model", "minion", "--hidden", "8", "--encoder", str(tiny_encoder_dir), "--data", str(tweet_dir),
            "--max-examples", "300", "--epochs", str(epochs), "--batch-size", "240", "--max-length", "16",
            "--out", str(out), "--cache-dir", str(out.parent / "cache"), "--strategy", "multiworker"]


def test_tf_config_is_read_and_bad_ones_are_one_line(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(MinionError, match="TF_CONFIG is not set"):
        worker_task()
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert worker_task() == ("worker", 1, 2) and not is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {**cluster, "chief": ["127.0.0.1:3"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert worker_task()[2] == 3 and not is_chief() and worker_position() == (1, 3)
    for bad in ("{not json", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 2}})):
        monkeypatch.setenv("TF_CONFIG", bad)
        with pytest.raises(MinionError, match="TF_CONFIG is not a cluster and a task"):
            worker_task()


@pytest.mark.timeout(1200)  # four processes of TensorFlow; about 4 minutes on a quiet 2-core machine
def test_a_resumed_worker_starts_from_the_chiefs_progress_and_best_weights(tmp_path, monkeypatch):
    from minion_tf.runs import runner
    from minion_tf.runs.config import RunConfig

    config = RunConfig(model="minion", options={"hidden": 8}, out=str(tmp_path / "shared"), patience=1)
    (config.run_dir() / "progress").mkdir(parents=True)
    (config.run_dir() / "progress" / "epoch-1.json").write_text("{}")
    (config.run_dir() / "best.weights.h5").write_bytes(b"weights of epoch 1")
    seen = {}

    def run_holding_folder(mine):  # what the worker's own run folder holds when its run starts
        seen.update({p.relative_to(mine.run_dir()).as_posix(): p.read_bytes() for p in mine.run_dir().rglob("*.*")})
        return {"ok": True}

    (tmp_path / "scratch").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    monkeypatch.setattr(runner.tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.setattr(runner, "worker_position", lambda: (1, 2))
    monkeypatch.setattr(runner, "_run_holding_folder", run_holding_folder)
    assert runner._run_as_worker(config) == {"ok": True}
    assert seen == {"progress/epoch-1.json": b"{}", "best.weights.h5": b"weights of epoch 1"}
    assert not list((tmp_path / "scratch").iterdir())  # the scratch folder goes when the run succeeds


def test_two_workers_write_one_record_and_a_killed_worker_fails_the_run_which_resumes(tiny_encoder_dir, tweet_dir,
                                                                                   tmp_path):
    out = tmp_path / "out"
    flags = _flags(tiny_encoder_dir, tweet_dir, out, epochs=6)
    procs = _launch(flags, tmp_path, "first")
    progress = None
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline and all(p.poll() is None for p in procs):
        found = list(out.glob("minion-*/progress/progress.json"))
        if found and json.loads(found[0].read_text())["epoch"] >= 1:
            progress = found[0]
            break
        time.sleep(0.2)
    assert progress is not None, (tmp_path / "first-worker0.log").read_text()[-3000:]
    procs[1].send_signal(signal.SIGKILL)  # mid-run: the chief waits on it in its next all-reduce
    codes, logs = _wait(procs, tmp_path, "first")
    done = json.loads(progress.read_text())["epoch"]
    assert codes[0] == 2, logs[0][-3000:]
    errors = [line for line in logs[0].splitlines() if line.startswith("error: ")]
    assert errors == [f"error: --strategy multiworker: lost a worker in epoch {done + 1} (UnavailableError); rerun "
                      f"the same command on every worker to resume after epoch {done}"], logs[0][-3000:]
    assert done < 6 and not (progress.parent.parent / "run.json").exists()

    procs = _launch(_flags(tiny_encoder_dir, tweet_dir, out, epochs=6), tmp_path, "second")
    codes, logs = _wait(procs, tmp_path, "second")
    assert codes == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    assert f"after epoch {done}" in logs[0] and f"after epoch {done}" in logs[1]  # both from the chief's progress
    assert "not the chief" in logs[1]
    run_dirs = [p for p in out.iterdir() if p.name.startswith("minion-")]
    assert len(run_dirs) == 1  # the other worker wrote nothing in OUT
    record = json.loads((run_dirs[0] / "run.json").read_text())
    assert record["distribute"] == {"strategy": "multiworker", "replicas": 2, "workers": 2, "per_replica_batch": 120.0}
    assert record["resumes"] == 1 and len(record["epochs"]) == 6 and record["test"]["examples"] > 0
    assert "2 replicas on 2 workers, each about 1/2 of every batch of 240" in logs[0]
    assert not list((tmp_path / "scratch1").glob("minion-worker*"))  # its scratch folder went (the killed one's too)
    manifests = list((tmp_path / "cache").rglob("manifest*.json"))  # built by both workers, merged by the chief
    assert len(manifests) == 3 and all(m.name == "manifest.json" and json.loads(m.read_text())["complete"]
                                       for m in manifests)
