"""Importing the package changes nothing in the user's process; the Keras 3 callbacks work in Keras 3.

Each check runs in a fresh interpreter without TF_USE_LEGACY_KERAS, as a user's program would.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter (the user's environment, minus our command settings); its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "HF_HUB_OFFLINE")}
    env["PYTHONPATH"] = PROJECT
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=300, cwd=PROJECT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


ENV_AFTER = """
import json, os
{imports}
import tensorflow as tf
print(json.dumps({{"env": dict(os.environ), "sequential": tf.keras.Sequential.__module__}}))
"""


def test_imports_leave_the_environment_and_tf_keras_alone():
    ours = json.loads(run_python(ENV_AFTER.format(imports=(
        "import minion_tf, minion_tf.metrics, minion_tf.callbacks, minion_tf.callbacks.keras3"))))
    # The baseline imports what the package imports (TensorFlow sets a few variables of its own).
    theirs = json.loads(run_python(ENV_AFTER.format(imports="import keras")))
    assert ours["env"] == theirs["env"]
    assert "TF_USE_LEGACY_KERAS" not in ours["env"] and "HF_HUB_OFFLINE" not in ours["env"]
    assert ours["sequential"].startswith("keras.src.")  # Keras 3, as without the package


@pytest.mark.slow
def test_loading_an_encoder_leaves_tf_keras_on_keras_3():
    out = json.loads(run_python("""
        import json, os
        import tensorflow as tf
        import tf_keras
        from minion_tf.backbones import load_backbone
        bb = load_backbone()
        ids, mask = bb.batch(["a good day"], max_length=16)
        states = bb.hidden_states(ids, mask)
        print(json.dumps({"legacy": os.environ.get("TF_USE_LEGACY_KERAS"), "offline": os.environ.get("HF_HUB_OFFLINE"),
                          "model": tf.keras.Model.__module__,
                          "shape": list(states.shape), "tf_keras": isinstance(bb.encoder, tf_keras.layers.Layer)}))
    """))
    assert out["legacy"] is None and out["offline"] is None and out["model"].startswith("keras.src.")
    assert out["shape"] == [1, 7, 5, 384] and out["tf_keras"]  # the encoder is a tf_keras model either way


FIT = """
import csv, json
import numpy as np
import keras
import tensorflow as tf
from minion_tf.callbacks import EnergyConfig
from minion_tf.callbacks.keras3 import CalibrationCallback, EnergyCallback

rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
model = {model}
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
energy = EnergyCallback(EnergyConfig(interval_s=0.05))
with energy:
    model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0,
              callbacks=[energy, CalibrationCallback((x, y)), keras.callbacks.CSVLogger("{log}")])
rows = list(csv.DictReader(open("{log}")))
print(json.dumps({{"module": type(model).__module__, "epochs": len(rows), "val_ace": [float(r["val_ace"]) for r in rows],
                  "columns": sorted(rows[0])}}))
"""


@pytest.mark.parametrize("model", [
    "tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2, activation='softmax')])",
    "keras.Model(*(lambda i: (i, keras.layers.Dense(2, activation='softmax')(i)))(keras.Input((4,))))",
])
def test_keras3_callbacks_fit_with_a_csv_logger(model, tmp_path):
    out = json.loads(run_python(FIT.format(model=model, log=tmp_path / "log.csv")))
    assert out["module"].startswith("keras.src.")
    assert out["epochs"] == 2 and all(0 <= v <= 1 for v in out["val_ace"])
    assert {"val_ace", "val_mce", "val_ece", "energy_kwh", "duration_s"} <= set(out["columns"])


def test_a_callback_of_the_other_keras_says_which_to_use():
    import keras
    import tf_keras

    from minion_tf.callbacks import keras2, keras3
    from minion_tf.errors import MinionError

    with pytest.raises(MinionError, match=r"Keras 3 model \(Sequential\); use minion_tf\.callbacks\.keras3"):
        keras2.CalibrationCallback(([], [])).set_model(keras.Sequential())
    with pytest.raises(MinionError, match=r"tf_keras \(Keras 2\) model .*use minion_tf\.callbacks\.keras2"):
        keras3.EnergyCallback().set_model(tf_keras.Sequential())
