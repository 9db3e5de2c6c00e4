import json

import numpy as np
import pytest

import minion_tf.cache as cache_mod
from minion_tf.batching import bucket_batches, pad_batch, padding_waste
from minion_tf.cache import build_cache, open_cache
from minion_tf.errors import MinionError

TEXTS = [f"tweet number {i} " + "so much fun " * (i % 9) for i in range(60)]
LABELS = [i % 2 for i in range(60)]


def build(backbone, path, **kw):
    kw.setdefault("batch_tokens", 256)
    kw.setdefault("shard_mb", 0.05)  # several shards from 60 tiny tweets
    return build_cache(backbone, TEXTS, LABELS, path, max_length=32, progress=False, **kw)


def test_cache_holds_every_state_without_padding(tiny_backbone, tmp_path):
    cache = build(tiny_backbone, tmp_path / "c")
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["num_shards"] > 2 and len(manifest["shards"]) == manifest["num_shards"]
    assert manifest["num_states"] == 3 and manifest["dtype"] == "float16" and manifest["max_length"] == 32
    assert manifest["spec"]["identity"]["encoder"] == "tiny-bert"
    lengths = [len(s) for s in tiny_backbone.tokenizer.encode(TEXTS, 32)]
    assert cache.lengths.tolist() == lengths and cache.labels.tolist() == LABELS
    stored = sum(np.load(tmp_path / "c" / s["states"], mmap_mode="r").shape[0] for s in manifest["shards"])
    assert stored == sum(lengths)  # ragged: real tokens only


def test_cached_batches_equal_streamed_states_within_float16(tiny_backbone, tmp_path):
    cache = build(tiny_backbone, tmp_path / "c")
    seen = 0
    for x, y, rows in cache.dataset(batch_size=16, seed=3, with_rows=True):
        rows = rows.numpy()
        ids, mask = pad_batch(tiny_backbone.tokenizer.encode([TEXTS[r] for r in rows], 32), 0)
        direct = tiny_backbone.hidden_states(ids, mask).numpy()
        np.testing.assert_array_equal(x["mask"].numpy(), mask)
        assert y.numpy().tolist() == [LABELS[r] for r in rows]
        real = mask.astype(bool)
        got = x["states"].numpy().astype(np.float32).transpose(0, 2, 1, 3)[real]
        want = direct.transpose(0, 2, 1, 3)[real]
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)
        assert not x["states"].numpy().transpose(0, 2, 1, 3)[~real].any()  # padding is zeros
        seen += len(rows)
    assert seen == len(TEXTS)


def test_killed_build_resumes_at_the_next_shard(tiny_backbone, tmp_path, monkeypatch):
    reference = build(tiny_backbone, tmp_path / "ref").manifest
    lengths = np.array([len(s) for s in tiny_backbone.tokenizer.encode(TEXTS, 32)])
    plan = cache_mod.plan_shards(lengths, 3, 32, batch_tokens=256, shard_mb=0.05)
    batches_per_shard = [len(shard.batches) for shard in plan]
    assert len(plan) >= 3
    die_at = batches_per_shard[0] + batches_per_shard[1] + 1  # inside the third shard
    calls = {"n": 0}
    real_pad = cache_mod.pad_batch

    def counting_pad(seqs, pad_id):
        calls["n"] += 1
        if calls["n"] == die_at:
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-build
        return real_pad(seqs, pad_id)

    monkeypatch.setattr(cache_mod, "pad_batch", counting_pad)
    with pytest.raises(KeyboardInterrupt):
        build(tiny_backbone, tmp_path / "c")
    partial = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert not partial["complete"] and [s["shard"] for s in partial["shards"]] == [0, 1]
    with pytest.raises(MinionError, match="did not finish"):
        open_cache(tmp_path / "c")
    assert not list((tmp_path / "c").glob(".tmp-*"))  # no temporary file left behind

    calls["n"] = 0
    resumed = build(tiny_backbone, tmp_path / "c").manifest
    assert calls["n"] == sum(batches_per_shard[2:])  # finished shards were not recomputed
    assert [s["states_sha256"] for s in resumed["shards"]] == [s["states_sha256"] for s in reference["shards"]]


@pytest.mark.parametrize("change, message", [
    ("max_length", "max length"), ("tokenizer", "tokenizer"), ("encoder", "encoder")])
def test_cache_of_another_encoder_tokenizer_or_length_is_refused(tiny_backbone, tmp_path, change, message):
    from dataclasses import replace

    from minion_tf.text_tokenizer import TextTokenizer

    build(tiny_backbone, tmp_path / "c")
    other, max_length = tiny_backbone, 32
    if change == "max_length":
        max_length = 16
    elif change == "tokenizer":
        tok = tiny_backbone.tokenizer
        other = replace(tiny_backbone, tokenizer=TextTokenizer(tok.backend, tok.name, "another", tok.pad_id))
    else:
        other = replace(tiny_backbone, name="another-encoder")
    with pytest.raises(MinionError, match=f"cache was built with {message}") as err:
        build_cache(other, TEXTS, LABELS, tmp_path / "c", max_length=max_length, progress=False)
    assert "\n" not in str(err.value)


def test_truncated_or_corrupt_shard_is_caught_on_open(tiny_backbone, tmp_path):
    build(tiny_backbone, tmp_path / "c")
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    shard = tmp_path / "c" / manifest["shards"][1]["states"]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(MinionError, match="truncated"):
        open_cache(tmp_path / "c")
    shard.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(MinionError, match="checksum mismatch"):
        open_cache(tmp_path / "c")
    # A rebuild repairs the damaged shard and keeps the others.
    build(tiny_backbone, tmp_path / "c")
    assert open_cache(tmp_path / "c").manifest["complete"]


def test_length_buckets_cover_every_example_once_with_little_padding():
    lengths = np.random.default_rng(0).integers(5, 60, size=5000)
    plan = bucket_batches(lengths, 256, np.random.default_rng(1))
    assert sorted(np.concatenate(plan).tolist()) == list(range(5000))
    assert padding_waste(lengths, plan) < 0.10
    assert padding_waste(lengths, [np.arange(i, i + 256) for i in range(0, 4864, 256)]) > 0.3
    again = bucket_batches(lengths, 256, np.random.default_rng(1))
    assert all((a == b).all() for a, b in zip(plan, again))
