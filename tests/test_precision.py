"""--precision: mixed precision for the models a run builds, its own cache, the caller's policy kept."""
import json

import pytest
import tf_keras as keras
from test_run import small

from minion_tf.errors import MinionError
from minion_tf.precision import precision_policy
from minion_tf.runs.config import RunConfig
from minion_tf.runs.runner import run


def test_precision_policy_sets_keras_policy_inside_and_restores_the_callers():
    keras.mixed_precision.set_global_policy("float32")
    with precision_policy("bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        assert keras.layers.Dense(2).compute_dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(RuntimeError), precision_policy("float16"):
        raise RuntimeError("a failing build")
    assert keras.mixed_precision.global_policy().name == "float32"


def test_precision_is_checked_and_keys_only_runs_that_use_it():
    assert RunConfig().run_key() == RunConfig(precision="float32").run_key()  # old run folders keep their names
    assert RunConfig(precision="bfloat16").run_key() != RunConfig().run_key()
    with pytest.raises(MinionError, match="--precision must be one of float32, bfloat16, float16"):
        RunConfig(precision="int8")
    with pytest.raises(MinionError, match="--precision bfloat16 goes with the Keras-trained methods"):
        RunConfig(model="fasttext", precision="bfloat16")


def test_bfloat16_minion_run_builds_its_own_cache_and_trains_in_bfloat16(tiny_encoder_dir, tweet_dir, tmp_path,
                                                                         monkeypatch):
    from minion_tf.runs import fitting

    seen = {}
    compile_for = fitting.compile_for

    def spy(model, spec, optimizer):
        seen["minion"] = model.inner.get_layer("minion").compute_dtype
        compile_for(model, spec, optimizer)

    monkeypatch.setattr(fitting, "compile_for", spy)
    record = run(small(tiny_encoder_dir, tweet_dir, tmp_path, epochs=1, precision="bfloat16"))
    assert seen["minion"] == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # the caller's policy again
    assert 0 <= record["test"]["accuracy"] <= 1
    caches = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert caches == [f"{tiny_encoder_dir.name}-L16-bfloat16"]
    manifest = json.loads(next((tmp_path / "cache" / caches[0]).glob("train-*/manifest.json")).read_text())
    assert manifest["spec"]["identity"]["compute_dtype"] == "bfloat16"
    # the float32 run of the same data does not read the bfloat16 cache (READ reads the same cache as MINION,
    # keyed by encoder, length and precision only, and is the cheaper side network to build)
    monkeypatch.setattr(fitting, "compile_for", compile_for)
    run(small(tiny_encoder_dir, tweet_dir, tmp_path, model="read", epochs=1))
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [f"{tiny_encoder_dir.name}-L16", caches[0]]


def test_float16_fine_tuning_gets_loss_scaling(tiny_encoder_dir, tweet_dir, tmp_path, monkeypatch):
    from minion_tf.runs import fitting

    seen = {}
    compile_for = fitting.compile_for

    def spy(model, spec, optimizer):
        compile_for(model, spec, optimizer)
        seen["scaled"] = isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer)

    monkeypatch.setattr(fitting, "compile_for", spy)
    run(small(tiny_encoder_dir, tweet_dir, tmp_path, model="finetune", options={}, epochs=1, max_examples=100,
              precision="float16"))
    assert seen["scaled"]
