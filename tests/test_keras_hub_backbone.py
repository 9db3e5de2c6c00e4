"""The keras-hub provider (`--encoder keras-hub:...`) gives the states of the transformers-TF provider."""
import numpy as np
import pytest

pytest.importorskip("keras_hub")

from minion_tf.backbones import canonical_encoder, describe_dims, load_backbone, minilm_dir, random_backbone  # noqa: E402
from minion_tf.cache import build_cache  # noqa: E402
from minion_tf.errors import MinionError  # noqa: E402

MAX_LENGTH = 64


@pytest.fixture(scope="module")
def tweets(shared_data):
    lines = (shared_data / "tweets" / "sentiment140" / "train_pos.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()][:64]


@pytest.fixture(scope="module")
def keras_hub_minilm():
    return load_backbone("keras-hub:minilm")


def real_tokens(states, mask):
    """(tokens, S, d) of the unpadded positions of (B, S, T, d) states."""
    return np.asarray(states, np.float32).transpose(0, 2, 1, 3)[np.asarray(mask, bool)]


@pytest.mark.slow
def test_all_hidden_states_agree_with_the_transformers_path(keras_hub_minilm, minilm, tweets):
    ids, mask = minilm.batch(tweets, MAX_LENGTH)
    ids_kh, mask_kh = keras_hub_minilm.batch(tweets, MAX_LENGTH)
    np.testing.assert_array_equal(ids_kh, ids)  # one tokenizer: the folder's tokenizer.json
    np.testing.assert_array_equal(mask_kh, mask)
    assert (keras_hub_minilm.num_states, keras_hub_minilm.model_dim) == (minilm.num_states, minilm.model_dim)
    ours = real_tokens(keras_hub_minilm.hidden_states(ids, mask), mask)
    theirs = real_tokens(minilm.hidden_states(ids, mask), mask)
    assert ours.shape == theirs.shape == (int(mask.sum()), 7, 384)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)  # measured: 6e-6


@pytest.mark.slow
def test_a_cache_of_either_path_holds_the_same_states(keras_hub_minilm, minilm, tweets, tmp_path):
    tweets = tweets[:32]
    caches = [build_cache(bb, tweets, directory=tmp_path / name, max_length=MAX_LENGTH, progress=False)
              for name, bb in (("keras-hub", keras_hub_minilm), ("transformers", minilm))]
    assert caches[0].manifest["spec"]["identity"]["encoder"] == "keras-hub:sentence-transformers/all-MiniLM-L6-v2"
    assert caches[0].lengths.tolist() == caches[1].lengths.tolist()
    rows = np.arange(len(tweets))
    (ours, mask), (theirs, mask_theirs) = (cache.states(rows) for cache in caches)
    np.testing.assert_array_equal(mask, mask_theirs)
    # float16 storage: a state 6e-6 apart may round one float16 step apart (at most 2^-10 of its size).
    np.testing.assert_allclose(real_tokens(ours, mask), real_tokens(theirs, mask), rtol=1e-3, atol=1e-3)


def test_a_trainable_keras_hub_encoder_is_refused_in_one_line():
    with pytest.raises(MinionError) as caught:
        load_backbone("keras-hub:minilm", trainable=True)
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and "frozen" in message and "transformers-TF" in message


def test_keras_hub_names_are_canonical_and_counted_without_weights(tmp_path):
    assert canonical_encoder("keras-hub:minilm") == canonical_encoder("keras-hub:") == "keras-hub:minilm"
    assert canonical_encoder(f"keras-hub:{minilm_dir()}") == "keras-hub:minilm"
    assert canonical_encoder(f"keras-hub:{tmp_path}/") == f"keras-hub:{tmp_path.resolve()}"
    (tmp_path / "config.json").write_text((minilm_dir() / "config.json").read_text())  # a config, no weights
    bb = random_backbone(f"keras-hub:{tmp_path}")
    assert bb.tokenizer is None and bb.segment_sep_id is None
    assert bb.encoder.count_params() == describe_dims(f"keras-hub:{tmp_path}")["encoder_params"] == 22_713_216
    with pytest.raises(MinionError, match="reads model.safetensors"):
        load_backbone(f"keras-hub:{tmp_path}")


def test_a_checkpoint_that_is_not_a_bert_is_refused_in_one_line(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "roberta"}')
    with pytest.raises(MinionError, match="loads BERT checkpoints") as caught:
        load_backbone(f"keras-hub:{tmp_path}")
    assert len(str(caught.value).splitlines()) == 1


@pytest.mark.slow
def test_loading_leaves_the_environment_alone():
    import json
    import os
    import subprocess
    import sys

    code = """if True:
        import json, os
        import keras
        before = dict(os.environ)
        from minion_tf.backbones import load_backbone
        bb = load_backbone("keras-hub:minilm")
        print(json.dumps({"before": before, "after": dict(os.environ), "shape": list(bb.hidden_states(*bb.batch(["a day"], 8)).shape)}))
    """
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["after"] == got["before"] and got["shape"] == [1, 7, 4, 384]


@pytest.mark.slow
@pytest.mark.parametrize("model,options,no_cache", [("minion", {"hidden": 8}, False), ("read", {"hidden": 8}, True),
                                                    ("lst", {"reduction": 8}, False)])
def test_side_networks_train_on_the_keras_hub_encoder(model, options, no_cache, tweet_dir, tmp_path):
    """Cached (MINION, LST) and streamed (READ) runs on keras-hub states, reloaded with equal predictions."""
    from minion_tf.methods.registry import method_class
    from minion_tf.runs.config import RunConfig
    from minion_tf.runs.runner import run
    from minion_tf.runs.tweet_data import load_splits

    config = RunConfig(model=model, options=options, encoder="keras-hub:minilm", data=str(tweet_dir),
                       max_examples=200, epochs=1, batch_size=32, max_length=16, out=str(tmp_path), no_cache=no_cache)
    record = run(config)
    assert record["streaming"] is no_cache and len(record["epochs"]) == 1
    if not no_cache:  # its own cache folder: the transformers path's states are another cache
        assert [p.name for p in (tmp_path / "cache").iterdir()] == ["keras-hub-all-MiniLM-L6-v2-L16"]
    texts, _ = load_splits(config)["test"]
    np.testing.assert_allclose(method_class(model).load_predictor(config.run_dir())(texts),
                               np.load(config.run_dir() / "test_probs.npy"), atol=1e-3)
