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
    return build_cache(backbone, TEXTS, path, max_length=32, progress=False, **kw)


def test_cache_holds_every_state_without_padding(tiny_backbone, tmp_path):
    cache = build(tiny_backbone, tmp_path / "c")
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["num_shards"] > 2 and len(manifest["shards"]) == manifest["num_shards"]
    assert manifest["num_states"] == 3 and manifest["dtype"] == "float16" and manifest["max_length"] == 32
    assert manifest["spec"]["identity"]["encoder"] == "tiny-bert"
    lengths = [len(s) for s in tiny_backbone.tokenizer.encode(TEXTS, 32)]
    assert cache.lengths.tolist() == lengths and not hasattr(cache, "labels")  # labels live beside the cache
    assert manifest["spec"]["format"] == cache_mod.FORMAT_VERSION == 2
    assert all(np.load(tmp_path / "c" / s["index"]).shape[1] == 2 for s in manifest["shards"])  # id, length
    stored = sum(np.load(tmp_path / "c" / s["states"], mmap_mode="r").shape[0] for s in manifest["shards"])
    assert stored == sum(lengths)  # ragged: real tokens only


def test_cached_batches_equal_streamed_states_within_float16(tiny_backbone, tmp_path):
    cache = build(tiny_backbone, tmp_path / "c")
    seen = 0
    for x, y, rows in cache.dataset(16, LABELS, seed=3, with_rows=True):
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


def read_by_hand(directory, row):
    """(shard number, (n, S, d) states) of one example, found in the shard files themselves."""
    for shard in json.loads((directory / "manifest.json").read_text())["shards"]:
        index = np.load(directory / shard["index"])
        at = np.flatnonzero(index[:, 0] == row)
        if len(at):
            start, n = int(index[: at[0], 1].sum()), int(index[at[0], 1])
            return shard["shard"], np.load(directory / shard["states"])[start:start + n]
    raise AssertionError(f"example {row} is in no shard")


def test_states_of_any_rows_equal_each_example_read_by_hand(tiny_backbone, tmp_path):
    cache = build(tiny_backbone, tmp_path / "c")
    rows = np.random.default_rng(5).permutation(len(TEXTS))[:23]  # unsorted, lengths mixed
    by_hand = [read_by_hand(tmp_path / "c", row) for row in rows]
    assert len({shard for shard, _ in by_hand}) >= 3 and len({len(s) for _, s in by_hand}) >= 5
    states, mask = cache.states(rows)
    width = max(len(s) for _, s in by_hand)
    want = np.zeros((len(rows), 3, width, 32), np.float16)
    for b, (_, block) in enumerate(by_hand):
        want[b, :, :len(block)] = block.transpose(1, 0, 2)
    assert states.dtype == np.float16 and mask.dtype == np.int32
    np.testing.assert_array_equal(states, want)
    np.testing.assert_array_equal(mask, [[int(t < len(s)) for t in range(width)] for _, s in by_hand])
    one, one_mask = cache.states(rows[3:4].tolist())  # a list of one row: no padding at all
    np.testing.assert_array_equal(one, want[3:4, :, :len(by_hand[3][1])])
    assert one_mask.all()


def test_dataset_batches_are_the_states_of_their_rows_and_reshuffle_each_epoch(tiny_backbone, tmp_path):
    cache = build(tiny_backbone, tmp_path / "c")
    ds = cache.dataset(16, LABELS, seed=3, with_rows=True)
    epochs = []
    for _ in range(2):
        epochs.append([])
        for x, y, rows in ds:
            states, mask = cache.states(rows.numpy())
            np.testing.assert_array_equal(x["states"].numpy(), states)
            np.testing.assert_array_equal(x["mask"].numpy(), mask)
            assert x["states"].dtype == "float16" and x["mask"].dtype == "int32" and y.dtype == "int64"
            np.testing.assert_array_equal(y.numpy(), np.asarray(LABELS)[rows.numpy()])
            epochs[-1].append(rows.numpy().tolist())
    assert epochs[0] != epochs[1] and all(sorted(sum(e, [])) == list(range(len(TEXTS))) for e in epochs)
    resumed = [r.numpy().tolist() for _, _, r in cache.dataset(16, LABELS, seed=3, with_rows=True, first_epoch=1)]
    assert resumed == epochs[1]  # epoch k's order depends on (seed, k) only


def test_dataset_runs_without_autotuning(tiny_backbone, tmp_path):
    # With autotuning, deleting an iterator (after every epoch) waits for the autotune thread's next wake-up.
    cache = build(tiny_backbone, tmp_path / "c")
    assert cache.dataset(16, LABELS, seed=0).options().autotune.enabled is False


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
        build_cache(other, TEXTS, tmp_path / "c", max_length=max_length, progress=False)
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


def side_feeds(backbone, tmp_path, labels, scores=False):
    """The cached feeds of a side network for a train and a test split of TEXTS with the given labels."""
    from types import SimpleNamespace

    from minion_tf.data.glue import Split
    from minion_tf.methods.registry import make_method

    labels = np.asarray(labels, np.float32 if scores else np.int64)
    data = SimpleNamespace(splits={"train": Split(TEXTS[:40], labels[:40]), "test": Split(TEXTS[40:], labels[40:])})
    run = SimpleNamespace(max_length=32, no_cache=False, cache_budget_gb=1.0, cache_dir=str(tmp_path / "cache"),
                          out=str(tmp_path), cache_dtype="float16", cache_layers=None, strategy="none")
    return make_method("minion").feeds(run, data, backbone, tmp_path / "run")


def test_relabelled_texts_reuse_the_cache_and_serve_the_new_labels(tiny_backbone, tmp_path, monkeypatch):
    first = side_feeds(tiny_backbone, tmp_path, LABELS)
    manifests = sorted((tmp_path / "cache").rglob("manifest.json"))
    assert len(manifests) == 2
    before = [(m.read_bytes(), m.stat().st_mtime_ns) for m in manifests]

    def must_not_encode(*args):
        raise AssertionError("the encoder ran again for texts already cached")

    monkeypatch.setattr(cache_mod, "pad_batch", must_not_encode)
    flipped = [1 - y for y in LABELS]
    for labels, scores in ((flipped, False), ([0.5 * i for i in range(60)], True)):  # other classes; scores
        feeds = side_feeds(tiny_backbone, tmp_path, labels, scores)
        assert sorted((tmp_path / "cache").rglob("manifest.json")) == manifests
        assert [(m.read_bytes(), m.stat().st_mtime_ns) for m in manifests] == before
        for name, offset in (("train", 0), ("test", 40)):
            assert feeds.splits[name].cache.directory == first.splits[name].cache.directory
            for _, y, rows in feeds.splits[name].dataset(16, seed=0, with_rows=True):
                want = np.asarray(labels)[offset + rows.numpy()]
                np.testing.assert_array_equal(y.numpy(), want.astype(y.numpy().dtype))


def test_texts_are_tokenised_once_on_the_cached_path(tiny_backbone, tmp_path, monkeypatch):
    tokenizer = tiny_backbone.tokenizer
    encoded, real_encode = [], tokenizer.encode

    def counting_encode(texts, max_length, pairs=None):
        encoded.append(len(texts))
        return real_encode(texts, max_length, pairs=pairs)

    monkeypatch.setattr(tokenizer, "encode", counting_encode)
    side_feeds(tiny_backbone, tmp_path, LABELS)  # builds both caches
    assert encoded == [40, 20]  # each split once (for the token count, the estimate and the cache)
    encoded.clear()
    side_feeds(tiny_backbone, tmp_path, LABELS)  # reuses them
    assert encoded == [40, 20]


@pytest.mark.parametrize("tokens, message", [
    ("short", "tokens were made with max length 16, the cache's is 32"),
    ("fewer", "59 tokenised examples for 60 texts"),
    ("other", "the given tokens' lengths differ from the cached ones")])
def test_tokens_that_cannot_be_the_texts_are_refused_in_one_line(tiny_backbone, tmp_path, tokens, message):
    from minion_tf.token_split import TokenSplit

    build(tiny_backbone, tmp_path / "c")
    given = {"short": TokenSplit.from_texts(tiny_backbone.tokenizer, TEXTS, LABELS, 16),
             "fewer": tiny_backbone.tokenizer.encode(TEXTS[:59], 32),
             "other": tiny_backbone.tokenizer.encode(TEXTS[::-1], 32)}[tokens]
    with pytest.raises(MinionError, match=message) as err:
        build(tiny_backbone, tmp_path / "c", tokens=given)
    assert "\n" not in str(err.value)


def test_given_tokens_build_the_same_cache(tiny_backbone, tmp_path, monkeypatch):
    from minion_tf.token_split import TokenSplit

    reference = build(tiny_backbone, tmp_path / "ref").manifest
    split = TokenSplit.from_texts(tiny_backbone.tokenizer, TEXTS, LABELS, 32)
    monkeypatch.setattr(tiny_backbone.tokenizer, "encode", lambda *a, **k: pytest.fail("tokenised again"))
    made = build(tiny_backbone, tmp_path / "c", tokens=split).manifest
    assert [s["states_sha256"] for s in made["shards"]] == [s["states_sha256"] for s in reference["shards"]]


def make_format_1(directory):
    """Turn a cache into what version 1 wrote: a label column in every index, format 1 in the spec."""
    manifest = json.loads((directory / "manifest.json").read_text())
    for shard in manifest["shards"]:
        index = np.load(directory / shard["index"])
        labels = np.asarray(LABELS)[index[:, 0]]
        np.save(directory / shard["index"], np.concatenate([index, labels[:, None]], axis=1))
        shard["index_sha256"] = cache_mod.file_sha256(directory / shard["index"])
        shard["index_bytes"] = (directory / shard["index"]).stat().st_size
    manifest["spec"]["format"] = 1
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_a_cache_of_the_old_format_is_refused_on_open_and_rebuilt_in_one_line(tiny_backbone, tmp_path, capsys):
    reference = build(tiny_backbone, tmp_path / "ref").manifest
    build(tiny_backbone, tmp_path / "c")
    make_format_1(tmp_path / "c")
    capsys.readouterr()
    with pytest.raises(MinionError) as err:
        open_cache(tmp_path / "c")
    assert str(err.value) == (f"{tmp_path / 'c'}: cache of format 1 (labels in its index), this version reads "
                              f"format 2; rebuild it (rerun the command) or delete it")
    with pytest.raises(MinionError, match="workers do not rebuild it together: rerun once without --strategy "
                                          "multiworker, or delete it"):
        build(tiny_backbone, tmp_path / "c", worker=(1, 2))
    cache = build(tiny_backbone, tmp_path / "c")
    assert capsys.readouterr().err == (f"{tmp_path / 'c'}: cache of format 1 (labels in its index); rebuilding it "
                                       f"in format 2\n")
    assert cache.manifest["spec"]["format"] == 2 and open_cache(tmp_path / "c").manifest["complete"]
    assert [s["states_sha256"] for s in cache.manifest["shards"]] == [s["states_sha256"] for s in reference["shards"]]
    assert sorted(p.name for p in (tmp_path / "c").glob("shard-*")) == sorted(
        p.name for p in (tmp_path / "ref").glob("shard-*"))


def test_labels_of_another_length_are_one_line(tiny_backbone, tmp_path):
    cache = build(tiny_backbone, tmp_path / "c")
    with pytest.raises(MinionError, match=r"labels of shape \(59,\) for a cache of 60 examples"):
        cache.dataset(16, LABELS[:59])


def test_quantize_rounds_to_the_nearest_step_of_each_vector():
    from minion_tf.cache import dequantize, quantize

    q, scale = quantize(np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0]], np.float16))
    assert q.dtype == np.int8 and scale.dtype == np.float16
    np.testing.assert_array_equal(q, [[64, -127, 32], [0, 0, 0]])  # 0.5 * 127 = 63.5 rounds to even 64
    np.testing.assert_allclose(scale, [1 / 127, 0], rtol=1e-3)
    x = np.random.default_rng(0).normal(size=(50, 4, 32)).astype(np.float16)
    q, scale = quantize(x)
    error = np.abs(dequantize(q, scale).astype(np.float32) - x.astype(np.float32))
    assert (error <= scale.astype(np.float32)[..., None] * 0.5 + 2e-3).all()  # half a step, float16 rounding


def test_an_int8_cache_holds_the_float16_states_to_half_a_step_in_a_little_over_half_the_bytes(tiny_backbone,
                                                                                            tmp_path):
    from minion_tf.cache import bytes_per_token

    exact = build(tiny_backbone, tmp_path / "f16")
    small = build(tiny_backbone, tmp_path / "i8", dtype="int8")
    manifest = json.loads((tmp_path / "i8" / "manifest.json").read_text())
    assert manifest["dtype"] == manifest["spec"]["dtype"] == "int8" and manifest["complete"]
    shard = manifest["shards"][0]
    assert np.load(tmp_path / "i8" / shard["states"]).dtype == np.int8
    assert np.load(tmp_path / "i8" / shard["scales"]).shape == (shard["tokens"], 3)
    rows = np.arange(len(TEXTS))
    (want, mask), (got, got_mask) = exact.states(rows), small.states(rows)
    np.testing.assert_array_equal(mask, got_mask)
    assert got.dtype == np.float16
    step = np.abs(want.astype(np.float32)).max(axis=-1, keepdims=True) / 127
    assert (np.abs(got.astype(np.float32) - want.astype(np.float32)) <= step / 2 + 2e-3).all()
    sizes = {name: sum((tmp_path / name / s[k]).stat().st_size for s in json.loads(
        (tmp_path / name / "manifest.json").read_text())["shards"] for k in ("states", "scales") if k in s)
             for name in ("f16", "i8")}
    tokens = manifest["num_tokens"]
    assert bytes_per_token(3, 32, "int8") == 3 * 34 and bytes_per_token(3, 32) == 3 * 64
    header = 128 * 2 * manifest["num_shards"]  # .npy headers
    assert sizes["i8"] - header <= tokens * 3 * 34 < sizes["i8"] and sizes["f16"] - header <= tokens * 3 * 64
    assert open_cache(tmp_path / "i8").manifest["dtype"] == "int8"  # its scales verify too
    scales = tmp_path / "i8" / shard["scales"]
    scales.write_bytes(scales.read_bytes()[:-1])
    with pytest.raises(MinionError, match="scales.npy: truncated"):
        open_cache(tmp_path / "i8")
    with pytest.raises(MinionError, match="cache was built with dtype 'int8', expected 'float16'"):
        build(tiny_backbone, tmp_path / "i8")


def test_shards_are_planned_by_the_bytes_their_dtype_stores(tiny_backbone):
    from minion_tf.cache import bytes_per_token, plan_shards

    lengths = np.array([len(s) for s in tiny_backbone.tokenizer.encode(TEXTS, 32)])
    for dtype in ("float16", "int8"):
        plan = plan_shards(lengths, 3, 32, batch_tokens=256, shard_mb=0.05, dtype=dtype)
        stored = [int(lengths[s.examples].sum()) * bytes_per_token(3, 32, dtype) for s in plan]
        assert all(b >= 0.05 * 2**20 for b in stored[:-1]) and stored[-1] > 0  # every shard but the last is full
        assert all(b - 256 * bytes_per_token(3, 32, dtype) < 0.05 * 2**20 for b in stored)  # over by a batch at most
    assert len(plan_shards(lengths, 3, 32, 256, 0.05, "int8")) < len(plan_shards(lengths, 3, 32, 256, 0.05))


def test_non_finite_states_stop_the_build_in_one_line_and_nothing_lists_them(tiny_backbone, tmp_path):
    class Overflowing:  # states beyond float16's range: inf once cached
        def __getattr__(self, name):
            return getattr(tiny_backbone, name)

        def hidden_states(self, ids, mask, training=False):
            return tiny_backbone.hidden_states(ids, mask) * 1e6

    with pytest.raises(MinionError, match=r"c: the encoder gave non-finite states for example \d+ \(float16 "
                                          r"overflow, or broken weights\?\); shard-00000 and the shards after"):
        build(Overflowing(), tmp_path / "c")
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["shards"] == []
    assert not list((tmp_path / "c").glob("shard-*"))
