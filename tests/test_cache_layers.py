"""`--cache-layers`: a side network over a subset of the encoder's states, cached, streamed and reloaded."""
import json

import numpy as np
import pytest

from minion_tf.backbones.subset import StateSubset, parse_states, state_view
from minion_tf.cache import CacheSpec, build_cache, data_digest, open_cache
from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig

TEXTS = [f"tweet number {i} " + "so much fun " * (i % 7) for i in range(40)]


def test_state_lists_parse_to_one_spelling_and_bad_ones_get_one_line(tiny_backbone):
    assert parse_states("2, 0,2") == (0, 2) and parse_states(6) == (6,)
    for text, message in [("0,x", "give state indices separated by commas"), ("", "separated by commas"),
                          ("-1,2", "start at 0")]:
        with pytest.raises(MinionError, match=message):
            parse_states(text)
    with pytest.raises(MinionError, match="--cache-layers 3: tiny-bert has states 0..2"):
        StateSubset(tiny_backbone, (0, 3))
    with pytest.raises(MinionError, match="--cache-layers 0,1: keep the last state, 2"):
        StateSubset(tiny_backbone, (0, 1))
    assert state_view(tiny_backbone, None) is tiny_backbone
    view = state_view(tiny_backbone, "0,2")
    assert state_view(view, "0,2") is view and view.num_states == 2 and view.model_dim == 32
    assert view.identity() == {**tiny_backbone.identity(), "states": [0, 2]}


def test_run_config_takes_a_subset_for_side_networks_only_and_keys_it(tmp_path):
    a = RunConfig(model="minion", options={"hidden": 8}, cache_layers="6,0,3", out=str(tmp_path))
    b = RunConfig(model="minion", options={"hidden": 8}, cache_layers="0,3,6", out=str(tmp_path))
    every = RunConfig(model="minion", options={"hidden": 8}, out=str(tmp_path))
    assert a.cache_layers == "0,3,6" and a.run_key() == b.run_key() != every.run_key()
    assert "cache_layers" not in every.key_fields()  # runs made before the flag keep their keys
    with pytest.raises(MinionError, match=r"--cache-layers goes with the side networks \(.*minion.*\), not "
                                          "--model finetune"):
        RunConfig(model="finetune", cache_layers="0,6")


def test_a_subset_cache_holds_exactly_those_states_of_the_full_one_and_refuses_the_other(tiny_backbone, tmp_path):
    full = build_cache(tiny_backbone, TEXTS, tmp_path / "all", max_length=32, progress=False)
    view = StateSubset(tiny_backbone, (0, 2))
    kept = build_cache(view, TEXTS, tmp_path / "kept", max_length=32, progress=False)
    manifest = json.loads((tmp_path / "kept" / "manifest.json").read_text())
    assert manifest["num_states"] == 2 and manifest["spec"]["identity"]["states"] == [0, 2]
    rows = np.arange(len(TEXTS))
    (every, mask), (some, same_mask) = full.states(rows), kept.states(rows)
    np.testing.assert_array_equal(some, every[:, [0, 2]])  # the same float16 values, the middle state left out
    np.testing.assert_array_equal(mask, same_mask)
    assert kept.dataset(8, labels=np.zeros(len(TEXTS)), seed=0).element_spec[0]["states"].shape[1] == 2
    with pytest.raises(MinionError, match=r"states \[0, 2\], expected 'all'"):
        open_cache(tmp_path / "kept", CacheSpec(identity=tiny_backbone.identity(), max_length=32,
                                                data=data_digest(TEXTS)))


def test_a_run_over_a_subset_caches_it_in_its_own_folder_and_reloads_onto_the_encoder(
        tiny_encoder_dir, tweet_dir, tmp_path):
    from minion_tf.methods.side import load_side
    from minion_tf.models.predicting import predict_ordered
    from minion_tf.models.side_tuning import build_side_model
    from minion_tf.models.streaming import StreamingSideModel
    from minion_tf.runs.runner import run
    from minion_tf.runs.tweet_data import load_splits
    from minion_tf.token_split import TokenSplit

    config = RunConfig(model="minion", options={"hidden": 8}, epochs=1, batch_size=32, encoder=str(tiny_encoder_dir),
                       data=str(tweet_dir), max_examples=300, max_length=16, out=str(tmp_path), cache_layers="2,0")
    record = run(config)
    (folder,) = (tmp_path / "cache").iterdir()
    assert folder.name.endswith("-L16-states0.2")
    assert all(open_cache(d).num_states == 2 for d in folder.iterdir())
    reference = build_side_model("minion", 8, 2, 32, 2)  # the side network over 2 states, built directly
    assert record["params"]["trainable"] == reference.count_params()
    backbone, side, saved = load_side(config.run_dir())
    assert saved["cache_layers"] == "0,2" and backbone.num_states == 2
    texts, labels = load_splits(config)["test"]
    split = TokenSplit.from_texts(backbone.tokenizer, texts, labels, saved["max_length"])
    probs = predict_ordered(StreamingSideModel(backbone, side), split.dataset(32, with_rows=True), len(texts))
    np.testing.assert_allclose(probs, np.load(config.run_dir() / "test_probs.npy"), atol=1e-3)  # a float16 step
