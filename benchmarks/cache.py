"""Hidden-state cache benchmark: build speed against the raw encoder, padding, bytes, epoch cost.

Prints ratios measured in one run (absolute times on shared machines are not comparable):

    python benchmarks/cache.py --examples 3000 --repeats 2

- raw forward tok/s: the encoder alone on the build's length-sorted batches (nothing kept);
- cache build tok/s and build/raw (target >= 0.9); repeated and interleaved with the raw pass;
- padding waste of the training batches (target <= 10 %);
- bytes per token on disk against the floor (layers + 1) * hidden * 2;
- one MINION-64 epoch read from the cache against one streamed through the encoder.
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
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
