"""Hidden-state cache benchmark: build speed against the raw encoder, padding, bytes, epoch cost.

Prints ratios measured in one run (absolute times on shared machines are not comparable):

    python benchmarks/cache.py --examples 3000 --repeats 2

- raw forward tok/s: the encoder alone on the build's length-sorted batches (nothing kept);
- cache build tok/s and build/raw (target >= 0.9); repeated and interleaved with the raw pass;
- padding waste of the training batches (target <= 10 %);
- bytes per token on disk against the floor (layers + 1) * hidden * 2;
- one MINION-64 epoch read from the cache against one streamed through the encoder;
- reader throughput: tok/s the cache reader delivers (one epoch of `cache.dataset(256, ...)`, no
  model) against tok/s a MINION-64 and a READ-64 epoch's train steps consume (`fit` on the same
  batches held in memory), ratio reader/consumption (target >= 3); the reader before it was made
  faster, `states()` alone (now, before, one gather per shard); and a training epoch fed by the
  reader against one fed from memory (what reading costs inside a fit). The things compared
  alternate, `--reader-repeats` times; medians.

    python benchmarks/cache.py --examples 3000 --reader-only   # the reader part alone
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.batching import bucket_batches, pad_batch, padding_waste  # noqa: E402
from minion_tf.cache import build_cache, plan_shards  # noqa: E402
from minion_tf.data.tweets import read_competition_dir  # noqa: E402
from minion_tf.runs.defaults import default_data_dir  # noqa: E402


def raw_forward(backbone, seqs, lengths, batches) -> float:
    """Seconds for the encoder's forward pass (all hidden states) over the given batches."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)] * 2)
    def forward(ids, mask):
        return tf.cast(backbone.hidden_states(ids, mask), tf.float16)

    forward(*pad_batch([seqs[i] for i in batches[0]], backbone.tokenizer.pad_id))  # trace once
    start = time.perf_counter()
    for batch in batches:
        forward(*pad_batch([seqs[i] for i in batch], backbone.tokenizer.pad_id)).numpy()
    return time.perf_counter() - start


def states_before(cache, rows):
    """`HiddenStateCache.states` before it was made faster (kept here for the before/after figure)."""
    width = int(cache.lengths[rows].max())
    out = np.zeros((len(rows), cache.num_states, width, cache.model_dim), dtype=np.float16)
    mask = np.zeros((len(rows), width), dtype=np.int32)
    for b, row in enumerate(rows):
        n, start = int(cache.lengths[row]), int(cache._offset[row])
        out[b, :, :n] = cache._states[cache._shard[row]][start:start + n].transpose(1, 0, 2)
        mask[b, :n] = 1
    return out, mask


def states_gathered(cache, rows):
    """The alternative measured against the per-example copy: the flat token index of all rows at
    once, one fancy-index gather per shard, scattered into the padded batch."""
    lengths = cache.lengths[rows]
    width = int(lengths.max())
    mask = np.arange(width) < lengths[:, None]
    b, t = np.nonzero(mask)
    token, shard = cache._offset[rows][b] + t, cache._shard[rows][b]
    out = np.zeros((len(rows), cache.num_states, width, cache.model_dim), dtype=np.float16)
    for s in np.unique(shard):
        here = shard == s
        out[b[here], :, t[here]] = cache._states[s][token[here]]
    return out, mask.astype(np.int32)


def reader_before(cache, batch_size: int, labels, seed: int):
    """The tf.data pipeline before: `states_before` in a generator, prefetch(2), autotuning on."""
    import tensorflow as tf

    def generate():
        for rows in bucket_batches(cache.lengths, batch_size, np.random.default_rng([seed, 0])):
            x, m = states_before(cache, rows)
            yield {"states": x, "mask": m}, labels[rows]

    spec = ({"states": tf.TensorSpec((None, cache.num_states, None, cache.model_dim), tf.float16),
             "mask": tf.TensorSpec((None, None), tf.int32)}, tf.TensorSpec((None,), tf.int64))
    steps = -(-len(cache) // batch_size)
    return tf.data.Dataset.from_generator(generate, output_signature=spec).apply(
        tf.data.experimental.assert_cardinality(steps)).prefetch(2)


def read_seconds(dataset) -> float:
    """Seconds to iterate one epoch of `dataset` with nothing consuming it (the iterator's deletion included)."""
    start = time.perf_counter()
    for _ in dataset:
        pass
    return time.perf_counter() - start


def reader_throughput(cache, labels, num_states: int, model_dim: int, repeats: int) -> None:
    """Print tok/s of the cache reader against tok/s of side training (see the module's docstring)."""
    import tf_keras as keras

    from minion_tf.models.side_tuning import build_side_model

    labels = np.asarray(labels, np.int64)
    tokens = int(cache.lengths.sum())
    batches = bucket_batches(cache.lengths, 256, np.random.default_rng([0, 0]))
    now, before = cache.dataset(256, labels, seed=0), reader_before(cache, 256, labels, 0)
    memory = cache.dataset(256, labels, seed=0).cache()  # the same batches held in memory: no reader
    read_seconds(memory)
    models = {}
    for side in ("minion", "read"):
        model = build_side_model(side, 64, num_states, model_dim)
        model.compile(keras.optimizers.Adam(3e-4), "sparse_categorical_crossentropy")
        epoch_seconds(model, memory.take(2))  # trace before timing
        models[f"{side.upper()}-64"] = model
    read_seconds(now), read_seconds(before)  # the shards' pages mapped into this process before timing

    def states_seconds(states):
        start = time.perf_counter()
        for rows in batches:
            states(rows)
        return time.perf_counter() - start

    timed = {"reader": lambda: read_seconds(now), "reader before": lambda: read_seconds(before),
             "states()": lambda: states_seconds(cache.states),
             "states() before": lambda: states_seconds(lambda rows: states_before(cache, rows)),
             "states() one gather per shard": lambda: states_seconds(lambda rows: states_gathered(cache, rows))}
    for name, model in models.items():
        timed[f"{name} from memory"] = lambda model=model: epoch_seconds(model, memory)
        timed[f"{name} from reader"] = lambda model=model: epoch_seconds(model, now)
        timed[f"{name} from reader before"] = lambda model=model: epoch_seconds(model, before)
    # Alternated, so that the machine's load moves all of them alike, and every other pass reversed:
    # what runs just before a measurement changes it (right after a fit, the reader measured 2x slower).
    seconds, order = {name: [] for name in timed}, list(timed)
    for rep in range(repeats):
        for name in order if rep % 2 == 0 else order[::-1]:
            seconds[name].append(timed[name]())
    median = {name: float(np.median(s)) for name, s in seconds.items()}
    rate = {name: tokens / s for name, s in median.items()}
    print(f"reader throughput:  {len(cache)} examples, {tokens} tokens, {len(batches)} batches of 256, "
          f"medians of {repeats} alternated")
    for name in ("reader", "reader before", "states()", "states() before", "states() one gather per shard"):
        low, high = tokens / max(seconds[name]), tokens / min(seconds[name])
        print(f"  {name:30s} {rate[name]:9.0f} tok/s   (range {low:.0f}-{high:.0f})")
    print(f"  reader now/before {rate['reader'] / rate['reader before']:.2f}x; "
          f"states() now/before {rate['states()'] / rate['states() before']:.2f}x, "
          f"now/gather {rate['states()'] / rate['states() one gather per shard']:.2f}x")
    for name in models:
        consumed = rate[f"{name} from memory"]
        print(f"  {name} train steps consume {consumed:7.0f} tok/s   reader/consumption = "
              f"{rate['reader'] / consumed:.1f}  (before {rate['reader before'] / consumed:.1f}; target >= 3)")
        print(f"  {name} epoch fed by the reader / from memory = "
              f"{median[f'{name} from reader'] / median[f'{name} from memory']:.3f}  (before "
              f"{median[f'{name} from reader before'] / median[f'{name} from memory']:.3f}; "
              f"{median[f'{name} from memory']:.2f} s from memory)")


def epoch_seconds(model, dataset) -> float:
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=3000, help="tweets to encode (default 3000)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved raw/build repetitions")
    parser.add_argument("--data", default=None, help="competition-layout tweet folder")
    parser.add_argument("--waste-examples", type=int, default=16000,
                        help="training-set size for the padding figure (default 16000, the default run's)")
    parser.add_argument("--reader-repeats", type=int, default=4, help="alternated reader/training repetitions")
    parser.add_argument("--reader-only", action="store_true",
                        help="build the cache once and measure only the reader's throughput")
    args = parser.parse_args(argv)

    from minion_tf.backbones import load_backbone
    from minion_tf.models.side_tuning import build_side_model
    from minion_tf.models.streaming import StreamingSideModel
    from minion_tf.token_split import TokenSplit
    import tf_keras as keras

    all_texts, all_labels = read_competition_dir(default_data_dir(args.data))
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(all_texts))[: args.examples]
    texts, labels = [all_texts[i] for i in pick], np.asarray(all_labels)[pick]
    backbone = load_backbone()
    split = TokenSplit.from_texts(backbone.tokenizer, texts, labels, args.max_length)
    tokens = int(split.lengths.sum())
    plan = plan_shards(split.lengths, backbone.num_states, backbone.model_dim)
    build_batches = [b for shard in plan for b in shard.batches]
    print(f"encoder {backbone.name}: {len(texts)} tweets, {tokens} tokens, "
          f"{len(build_batches)} forward batches")

    raw, build, size = [], [], 0
    workdir = Path(tempfile.mkdtemp(prefix="minion-cache-bench-"))
    try:
        if args.reader_only:
            cache = build_cache(backbone, texts, workdir / "cache", args.max_length, progress=False, tokens=split)
            reader_throughput(cache, split.labels, backbone.num_states, backbone.model_dim, args.reader_repeats)
            return
        for rep in range(args.repeats):
            raw.append(raw_forward(backbone, split.seqs, split.lengths, build_batches))
            target = workdir / f"cache{rep}"
            start = time.perf_counter()
            cache = build_cache(backbone, texts, target, args.max_length, progress=False, tokens=split)
            build.append(time.perf_counter() - start)
            size = sum(f.stat().st_size for f in target.glob("shard-*"))
        raw_tps, build_tps = tokens / min(raw), tokens / min(build)
        print(f"raw forward:        {raw_tps:10.0f} tok/s   (best of {args.repeats})")
        print(f"cache build:        {build_tps:10.0f} tok/s   ratio build/raw = {build_tps / raw_tps:.3f}"
              f"   (target >= 0.9)")
        # Padding depends on how many batches share a length pool: measure at the default run's
        # training size too (tokenizing only).
        sample = [all_texts[i] for i in rng.permutation(len(all_texts))[:args.waste_examples]]
        for name, lengths in (("this run", split.lengths), (f"{len(sample)} tweets", np.array(
                [len(s) for s in backbone.tokenizer.encode(sample, args.max_length)]))):
            bucketed = bucket_batches(lengths, 256, np.random.default_rng(0))
            naive = [np.arange(i, min(i + 256, len(lengths))) for i in range(0, len(lengths), 256)]
            print(f"padding waste:      {100 * padding_waste(lengths, bucketed):9.1f} %  with length bucketing "
                  f"(target <= 10 %), {100 * padding_waste(lengths, naive):.1f} % without; batch 256, {name}")
        floor = backbone.num_states * backbone.model_dim * 2
        print(f"bytes per token:    {size / tokens:10.1f}   floor (layers+1)*hidden*2 = {floor}"
              f"   ratio {size / tokens / floor:.4f}")

        side = build_side_model("minion", 64, backbone.num_states, backbone.model_dim)
        side.compile(keras.optimizers.Adam(3e-4), "sparse_categorical_crossentropy")
        streaming = StreamingSideModel(backbone, side)
        streaming.compile(keras.optimizers.Adam(3e-4), "sparse_categorical_crossentropy")
        epoch_seconds(side, cache.dataset(256, split.labels, seed=0).take(1))  # trace both before timing
        epoch_seconds(streaming, split.dataset(256, seed=0).take(1))
        cached = epoch_seconds(side, cache.dataset(256, split.labels, seed=1))
        streamed = epoch_seconds(streaming, split.dataset(256, seed=1))
        print(f"MINION-64 epoch:    cache {cached:.1f} s, streaming {streamed:.1f} s, "
              f"cache/streaming = {cached / streamed:.3f}")
        reader_throughput(cache, split.labels, backbone.num_states, backbone.model_dim, args.reader_repeats)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
