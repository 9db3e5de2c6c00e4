"""The random-weights provider (`--encoder random:NAME`): the real architecture, seeded random weights,
a real tokenizer, and an identity (and run key) of its own."""
import json
import shutil

import numpy as np
import pytest

from minion_tf.backbones import canonical_encoder, describe_dims, load_backbone, minilm_dir, random_backbone
from minion_tf.backbones.random_weights import ClampedTokenizer, fit_tokenizer, tokenizer_size
from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig
from minion_tf.text_tokenizer import TextTokenizer


@pytest.fixture(scope="module")
def real_and_random(tiny_encoder_dir):
    return load_backbone(str(tiny_encoder_dir)), load_backbone(f"random:{tiny_encoder_dir}")


def test_counts_and_dims_equal_the_real_architectures(real_and_random, tiny_encoder_dir):
    real, rand = real_and_random
    assert rand.encoder.count_params() == real.encoder.count_params()
    assert (rand.num_states, rand.model_dim) == (real.num_states, real.model_dim)
    assert describe_dims(f"random:{tiny_encoder_dir}") == describe_dims(str(tiny_encoder_dir))
    assert random_backbone(f"random:{tiny_encoder_dir}").encoder.count_params() == real.encoder.count_params()
    assert describe_dims("random:vinai/bertweet-base") == {"model_dim": 768, "num_states": 13,
                                                           "encoder_params": 134_899_968}


def test_identity_says_the_weights_are_random_and_differs_from_the_real_one(real_and_random):
    real, rand = real_and_random
    assert rand.name.startswith("random:") and rand.identity()["encoder"] == rand.name
    assert rand.identity()["weights"].startswith("random(seed=0):")
    assert rand.identity() != real.identity()
    assert rand.identity()["tokenizer"] == real.identity()["tokenizer"]  # the tokenizer is the real one
    assert rand.without_encoder().identity() == rand.identity()  # kept when training frees the encoder


def test_every_load_gives_the_same_seeded_weights_drawn_like_transformers(real_and_random, tiny_encoder_dir):
    import tensorflow as tf

    real, rand = real_and_random
    tf.random.set_seed(123)  # the global random state does not change the weights
    again = load_backbone(f"random:{tiny_encoder_dir}")
    assert again.identity() == rand.identity()
    for a, b, r in zip(rand.encoder.weights, again.encoder.weights, real.encoder.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        values = a.numpy()
        if "LayerNorm" in a.name or "bias" in a.name:
            np.testing.assert_array_equal(values, np.full_like(values, values.flat[0]))  # as built
        else:
            assert np.abs(values).max() <= 2 * 0.02 + 1e-6 and 0.01 < values.std() < 0.02  # truncated N(0, 0.02)
            assert not np.array_equal(values, r.numpy())
    ids, mask = rand.batch(["a good day", "bad"], max_length=16)
    np.testing.assert_array_equal(ids, real.batch(["a good day", "bad"], max_length=16)[0])
    assert rand.hidden_states(ids, mask).shape == (2, 3, 5, 32)


def test_trainable_loads_train(tiny_encoder_dir):
    assert load_backbone(f"random:{tiny_encoder_dir}", trainable=True).encoder.trainable
    assert not load_backbone(f"random:{tiny_encoder_dir}").encoder.trainable


def test_canonical_names_and_run_keys_keep_the_prefix(tiny_encoder_dir):
    assert canonical_encoder("random:MiniLM") == canonical_encoder("random:minilm") == "random:minilm"
    assert canonical_encoder("random:vinai/bertweet-base") == "random:vinai/bertweet-base"
    assert canonical_encoder(f"random:{tiny_encoder_dir}") == f"random:{tiny_encoder_dir.resolve()}"
    for model, options in (("minion", {"hidden": 8}), ("finetune", {})):
        real = RunConfig(model=model, options=options, encoder=str(tiny_encoder_dir))
        rand = RunConfig(model=model, options=options, encoder=f"random:{tiny_encoder_dir}")
        assert real.run_key() != rand.run_key() and real.run_dir() != rand.run_dir()
    assert RunConfig(encoder="random:minilm").run_key() == RunConfig(encoder="random:all-MiniLM-L6-v2").run_key()
    assert RunConfig(encoder="random:minilm").run_key() != RunConfig(encoder="minilm").run_key()


def test_a_missing_config_or_tokenizer_is_one_line(tmp_path, tiny_encoder_dir):
    from minion_tf.backbones import check_encoder

    with pytest.raises(MinionError, match="random:nosuch/model: no config of 'nosuch/model' on this machine"):
        check_encoder("random:nosuch/model")
    check_encoder("random:vinai/bertweet-base")  # a shipped config is enough
    bare = tmp_path / "config-only"
    bare.mkdir()
    shutil.copy(tiny_encoder_dir / "config.json", bare / "config.json")
    with pytest.raises(MinionError, match="no usable tokenizer files"):
        load_backbone(f"random:{bare}")
    with pytest.raises(MinionError) as caught:  # BERTweet's weights (and tokenizer files) are not here
        load_backbone("random:vinai/bertweet-base")
    assert "pass --tokenizer" in str(caught.value) and "\n" not in str(caught.value)


def test_a_tokenizer_larger_than_the_embeddings_reads_its_extra_ids_as_unknown(capsys):
    tok = TextTokenizer.from_file(minilm_dir() / "tokenizer.json")
    assert fit_tokenizer(tok, 30522, "x") is tok  # fits: unchanged
    clamped = fit_tokenizer(tok, 1000, "random:tiny")
    assert isinstance(clamped, ClampedTokenizer) and tokenizer_size(tok) == 30522
    assert "ids from 1,000 are read as the unknown token (100)" in capsys.readouterr().out
    (full,), (cut,) = tok.encode(["hello wonderful world"], 16), clamped.encode(["hello wonderful world"], 16)
    assert (full >= 1000).any() and cut.max() < 1000
    np.testing.assert_array_equal(cut, np.where(full < 1000, full, 100))
    assert clamped.fingerprint != tok.fingerprint and clamped.pad_id == tok.pad_id
    with pytest.raises(MinionError, match="no unknown token"):
        fit_tokenizer(tok, 50, "random:tiny")  # [UNK] (100) has no embedding either


def test_the_bertweet_tokenizer_is_clamped_to_bertweets_embeddings(shared_data):
    tok = TextTokenizer.from_file(shared_data / "bertweet_tokenizer" / "bertweet_tokenizers.json")
    clamped = fit_tokenizer(tok, 64001, "random:vinai/bertweet-base")
    assert tokenizer_size(tok) == 66050 and clamped.unk_id == 3  # <unk>
    assert max(int(ids.max()) for ids in clamped.encode(["face_with_tears_of_joy #MTVAwards lol"] * 2, 64)) < 64001


def test_real_weights_refuse_a_tokenizer_larger_than_their_embeddings(shared_data, tiny_encoder_dir):
    bertweet = shared_data / "bertweet_tokenizer" / "bertweet_tokenizers.json"
    with pytest.raises(MinionError, match=r"66,050 ids, but .* has 30,522 embeddings"):
        load_backbone(str(tiny_encoder_dir), str(bertweet))  # the tiny encoder has MiniLM's vocabulary
    assert load_backbone(str(tiny_encoder_dir), str(minilm_dir() / "tokenizer.json")).encoder is not None


@pytest.mark.parametrize("model,options", [("minion", {"hidden": 8}), ("finetune", {})])
def test_a_short_run_works_and_caches_apart_from_the_real_encoder(model, options, tiny_encoder_dir, tweet_dir,
                                                                 tmp_path):
    from minion_tf.runs.runner import describe, run

    config = RunConfig(model=model, options=options, epochs=1, batch_size=32, encoder=f"random:{tiny_encoder_dir}",
                       data=str(tweet_dir), max_examples=300, max_length=16, out=str(tmp_path))
    assert describe(config)["trainable"] > 0
    record = run(config)
    assert 0.0 <= record["test"]["accuracy"] <= 1.0 and len(record["epochs"]) == 1
    assert record["config"]["encoder"] == f"random:{tiny_encoder_dir}"
    if model == "minion":
        (cache,) = (tmp_path / "cache").iterdir()
        assert cache.name.startswith("random-")
        manifest = json.loads(next(cache.glob("train-*/manifest.json")).read_text())
        assert manifest["spec"]["identity"]["weights"].startswith("random(seed=0):")
