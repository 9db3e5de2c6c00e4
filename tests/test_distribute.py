"""Training on tf.distribute (`--strategy`): the cluster read from TF_CONFIG, the run key, and a mirrored run
over two logical CPU devices that trains exactly as one device does."""
import json
import subprocess
import sys

import pytest

from minion_tf.distribute import Role, check_strategy, worker_role
from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig


def cluster(kind, index, chief=False, workers=2):
    spec = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chief:
        spec["chief"] = ["127.0.0.1:1999"]
    return json.dumps({"cluster": spec, "task": {"type": kind, "index": index}})


def test_the_role_comes_from_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_role() == Role("worker", 0, 1, True)
    monkeypatch.setenv("TF_CONFIG", cluster("worker", 0))
    assert worker_role() == Role("worker", 0, 2, True)
    monkeypatch.setenv("TF_CONFIG", cluster("worker", 1))
    assert worker_role() == Role("worker", 1, 2, False)
    monkeypatch.setenv("TF_CONFIG", cluster("worker", 0, chief=True))  # with a chief task, worker 0 is not it
    assert worker_role() == Role("worker", 0, 3, False)
    monkeypatch.setenv("TF_CONFIG", cluster("chief", 0, chief=True))
    assert worker_role().chief


@pytest.mark.parametrize("raw,match", [("{not json", "TF_CONFIG: not a cluster"), ('{"cluster": {}}', "not a cluster"),
                                       (cluster("worker", 5), "task worker 5 is not in its cluster")])
def test_a_malformed_tf_config_is_one_line(monkeypatch, raw, match):
    monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(MinionError, match=match):
        worker_role()


def test_the_strategy_is_checked_keyed_only_when_set_and_refused_where_keras_does_not_train():
    with pytest.raises(MinionError, match="--strategy must be one of none, mirrored, got 'tpu'"):
        check_strategy("tpu")
    plain = RunConfig(model="minion", options={"hidden": 64})
    mirrored = RunConfig(model="minion", options={"hidden": 64}, strategy="mirrored")
    assert "strategy" not in plain.key_fields() and mirrored.key_fields()["strategy"] == "mirrored"
    assert plain.run_key() != mirrored.run_key()
    for model in ("fasttext", "multitask"):
        task = {"multitask": {"task": "minbert"}}.get(model, {})
        with pytest.raises(MinionError, match="goes with the methods Keras trains"):
            RunConfig(model=model, strategy="mirrored", **task)


MIRRORED = """
from minion_tf.process import setup_command
setup_command()
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from minion_tf.runs.config import RunConfig
from minion_tf.runs.runner import run
encoder, data, out = sys.argv[1:4]
found = {}
for strategy in ("none", "mirrored"):
    config = RunConfig(model="minion", options={"hidden": 8}, epochs=1, batch_size=32, encoder=encoder, data=data,
                       max_examples=300, max_length=16, out=out, strategy=strategy)
    record = run(config)
    found[strategy] = {"probs": np.load(config.run_dir() / "test_probs.npy").tolist(),
                       "accuracy": record["test"]["accuracy"], "distribute": record["distribute"],
                       "loss": [e["loss"] for e in record["epochs"]]}
print("RESULT " + json.dumps(found))
"""


def test_a_mirrored_run_over_two_cpu_replicas_trains_as_one_device(tiny_encoder_dir, tweet_dir, tmp_path):
    """MINION has no dropout: two replicas, each on half of every batch, add up the same gradients as one
    device on the whole batch, so the test predictions agree to float rounding (tolerance 1e-4)."""
    import numpy as np

    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(tiny_encoder_dir), str(tweet_dir), str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.split("RESULT ", 1)[1])
    none, mirrored = found["none"], found["mirrored"]
    assert none["distribute"] == {"strategy": "none", "replicas": 1, "workers": 1}
    assert mirrored["distribute"] == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    assert "--strategy mirrored: 2 replicas (1 workers), 16 of each batch of 32 per replica" in proc.stdout
    np.testing.assert_allclose(mirrored["loss"], none["loss"], rtol=1e-4)
    np.testing.assert_allclose(mirrored["probs"], none["probs"], atol=1e-4)
    assert mirrored["accuracy"] == none["accuracy"]
