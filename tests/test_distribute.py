"""Training on tf.distribute (`--strategy`): the flag and run key, and mirrored training over two logical CPU
devices that trains exactly as one device does, short and one-example batches included."""
import json
import subprocess
import sys

import pytest

from minion_tf.distribute import check_strategy
from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig


def test_the_strategy_is_checked_keyed_only_when_set_and_refused_where_keras_does_not_train():
    with pytest.raises(MinionError, match="--strategy must be one of none, mirrored, multiworker, got 'tpu'"):
        check_strategy("tpu")
    plain = RunConfig(model="minion", options={"hidden": 64})
    mirrored = RunConfig(model="minion", options={"hidden": 64}, strategy="mirrored")
    assert "strategy" not in plain.key_fields() and mirrored.key_fields()["strategy"] == "mirrored"
    assert plain.run_key() != mirrored.run_key()
    for model in ("fasttext", "multitask"):
        task = {"multitask": {"task": "minbert"}}.get(model, {})
        with pytest.raises(MinionError, match="goes with the methods Keras trains"):
            RunConfig(model=model, strategy="mirrored", **task)


def test_mirrored_on_one_device_is_one_line():
    code = ("from minion_tf.distribute import make_strategy\nfrom minion_tf.errors import MinionError\n"
            "try:\n    make_strategy('mirrored')\nexcept MinionError as err:\n    print(err)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "--strategy mirrored: one device here (/device:CPU:0), nothing to mirror across" in proc.stdout


MIRRORED = """
from minion_tf.process import setup_command
setup_command()
import json, sys
import numpy as np
import tensorflow as tf
import tf_keras as keras
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from minion_tf.distribute import make_strategy
from minion_tf.methods.registry import make_method
from minion_tf.runs.config import RunConfig
from minion_tf.runs.fitting import TrainOnly
from minion_tf.runs.runner import run

# 1. train steps on batches of 15 (8 / 7 examples per replica) and 1 (one replica empty), SGD
rng = np.random.default_rng(0)
batches = []
for n in (15, 1, 6):
    states = rng.normal(size=(n, 3, 5, 32)).astype("float32")
    mask = (np.arange(5) < rng.integers(2, 6, n)[:, None]).astype("int32")
    batches.append(({"states": states, "mask": mask}, (np.arange(n) % 2).astype("int64")))
spec = ({"states": tf.TensorSpec((None, 3, 5, 32)), "mask": tf.TensorSpec((None, 5), tf.int32)},
        tf.TensorSpec((None,), tf.int64))
weights = {}
for name in ("none", "mirrored"):
    with make_strategy(name).scope():
        keras.utils.set_random_seed(0)
        side = make_method("minion", {"hidden": 8}).side_model(3, 32, 2)
        model = TrainOnly(side, side.trainable_weights)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        model.fit(tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=spec), verbose=0)
    weights[name] = [w.numpy() for w in side.trainable_weights]
steps = max(float(np.abs(a - b).max()) for a, b in zip(*weights.values()))

# 2. whole runs, batch 31: length buckets end in short batches
encoder, data, out = sys.argv[1:4]
found = {"steps_max_weight_diff": steps}
for strategy in ("none", "mirrored"):
    config = RunConfig(model="minion", options={"hidden": 8}, epochs=1, batch_size=31, encoder=encoder, data=data,
                       max_examples=300, max_length=16, out=out, strategy=strategy)
    record = run(config)
    found[strategy] = {"probs": np.load(config.run_dir() / "test_probs.npy").tolist(),
                       "accuracy": record["test"]["accuracy"], "distribute": record["distribute"],
                       "loss": [e["loss"] for e in record["epochs"]]}
print("RESULT " + json.dumps(found))
"""


def test_mirrored_training_over_two_cpu_replicas_trains_as_one_device(tiny_encoder_dir, tweet_dir, tmp_path):
    """MINION has no dropout: two replicas, each on its share of every batch, must add up one device's gradient.
    Keras' own loss (each replica's mean / replicas) would weight a 15-example batch's halves 8:7 as 1:1 and
    halve a 1-example batch's gradient; the weights after three such steps agree to 1e-6 here."""
    import numpy as np

    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(tiny_encoder_dir), str(tweet_dir), str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert found["steps_max_weight_diff"] < 1e-6
    none, mirrored = found["none"], found["mirrored"]
    assert none["distribute"] == {"strategy": "none", "replicas": 1}
    assert mirrored["distribute"] == {"strategy": "mirrored", "replicas": 2, "per_replica_batch": 15.5}
    assert "--strategy mirrored: 2 replicas, each about 1/2 of every batch of 31 (the learning rate is not rescaled)" in proc.stdout
    np.testing.assert_allclose(mirrored["loss"], none["loss"], rtol=1e-4)
    np.testing.assert_allclose(mirrored["probs"], none["probs"], atol=1e-4)
    assert mirrored["accuracy"] == none["accuracy"]
