"""One train step of each method against one frozen encoder forward, on one batch of real tweets:

    python benchmarks/steps.py                                          # MiniLM, its real weights
    python benchmarks/steps.py --encoder vinai/bertweet-base --random-weights   # the paper's size

The batch is a length-bucketed training batch of `--batch` tweets (as runs see them: similar
lengths, padded to the longest), the one of median width among the first epoch's batches
(`--batch-kind random`: the first tweets of a shuffle, padded to the longest).
Each step is the method's own model (`method.build`, `TrainOnly`, Adam) in a `tf.function`;
side networks train on the states of one frozen forward, rounded to float16 as the cache
stores them. The steps alternate `--repeats` times in this process; the table gives medians
(wall and CPU seconds) and each step / the encoder forward. The arithmetic column is the
step's matmul FLOPs (counted from the shapes, forward and backward) / the forward's: the
floor the step's time would sit at if it ran at the forward's FLOP rate.
"""
from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

METHODS = {"finetune": {}, "read": {"hidden": 64}, "minion": {"hidden": 64}, "lora": {"rank": 8},
           "lst": {"reduction": 8}}


def encoder_flops(num_layers: int, d: int, ffn: int, batch: int, width: int) -> float:
    """Matmul FLOPs of one encoder forward: QKV + output (4 d^2), FFN (2 d ffn), attention (2 T d)."""
    tokens = batch * width
    return 2.0 * num_layers * tokens * (4 * d * d + 2 * d * ffn + 2 * width * d)


def side_flops(model: str, hidden: int, num_states: int, d: int, tokens: int, real: int) -> float:
    """Matmul FLOPs of a READ/MINION train step (forward, and backward at twice the forward) on a
    batch of `tokens` positions, `real` of them real (READ runs only those)."""
    h = hidden
    if model == "read":  # per real token a BiGRU over the S states (input d, 3h gates), then Dense(h -> d)
        forward = real * (num_states * 2 * 2 * (d * 3 * h + h * 3 * h) + 2 * h * d)
    else:  # per state Dense(d -> 2h), a BiGRU over tokens (input 2h); then Dense(2h -> d)
        forward = tokens * (num_states * (2 * d * 2 * h + 2 * 2 * (2 * h * 3 * h + h * 3 * h)) + 2 * 2 * h * d)
    return 3.0 * forward


def pick_batch(tokenizer, texts, batch_size: int, max_length: int, kind: str):
    """(ids, mask): the bucketed training batch of median width, or (`kind="random"`) the first
    `batch_size` tweets as they come, padded to the longest."""
    from minion_tf.batching import bucket_batches, pad_batch

    seqs = tokenizer.encode(texts, max_length)
    if kind == "random":
        return pad_batch(seqs[:batch_size], tokenizer.pad_id)
    lengths = np.array([len(s) for s in seqs])
    batches = [b for b in bucket_batches(lengths, batch_size, np.random.default_rng(0)) if len(b) == batch_size]
    widths = np.array([lengths[b].max() for b in batches])
    chosen = batches[int(np.argsort(widths)[len(widths) // 2])]
    return pad_batch([seqs[i] for i in chosen], tokenizer.pad_id)


def frozen_forward(backbone, ids, mask):
    """All hidden states, rounded to float16 as the cache stores them."""
    import tensorflow as tf

    return tf.cast(backbone.hidden_states(ids, mask), tf.float16)


def build_step(name: str, options: dict, backbone, inputs, labels):
    """A `tf.function` running one train step of the method on `inputs` (not yet traced); it returns the loss."""
    import tensorflow as tf
    import tf_keras as keras

    from minion_tf.methods.registry import make_method
    from minion_tf.runs.config import RunConfig
    from minion_tf.runs.fitting import TrainOnly, compile_for
    from minion_tf.runs.task_data import task_spec

    method = make_method(name, options)
    spec = task_spec("tweets")
    built = method.build(RunConfig(model=name, options=options), backbone, spec)
    model = TrainOnly(built.model, built.variables)
    compile_for(model, spec, keras.optimizers.Adam(1e-4))
    return tf.function(lambda: model.train_step((inputs, labels))["loss"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", default="minilm", help="encoder (default minilm, the packaged MiniLM)")
    p.add_argument("--random-weights", action="store_true",
                   help="build the encoder from its config with random weights (cost does not depend on them); "
                        "the text is tokenised with MiniLM's tokenizer")
    p.add_argument("--batch", type=int, default=256, help="tweets in the batch (default 256)")
    p.add_argument("--batch-kind", choices=("bucketed", "random"), default="bucketed",
                   help="bucketed: the median-width training batch (default); random: tweets as they come")
    p.add_argument("--repeats", type=int, default=7, help="alternations of all steps (default 7)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated (default {','.join(METHODS)})")
    p.add_argument("--precision", default="float32",
                   help="comma-separated precisions, each a set of rows: float32 (default), bfloat16, float16")
    p.add_argument("--data", default=None, help="tweet folder (default ../shared/data/tweets/sentiment140)")
    args = p.parse_args(argv)
    precisions = [x for x in args.precision.split(",") if x]
    names = [m for m in args.methods.split(",") if m]
    if unknown := [m for m in names if m not in METHODS]:
        sys.exit(f"error: --methods: unknown {unknown[0]!r}; known: {', '.join(METHODS)}")

    from minion_tf.backbones import load_backbone, random_backbone
    from minion_tf.data.tweets import read_competition_dir
    from minion_tf.runs.defaults import default_data_dir

    texts, _ = read_competition_dir(default_data_dir(args.data))
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.choice(len(texts), size=min(len(texts), 50 * args.batch), replace=False)]
    def encoder(trainable=False):
        if args.random_weights:
            backbone = random_backbone(args.encoder)
            backbone.encoder.trainable = trainable
            return backbone
        return load_backbone(args.encoder, trainable=trainable)

    tokenizer = load_backbone().tokenizer if args.random_weights else load_backbone(args.encoder).tokenizer
    ids, mask = pick_batch(tokenizer, texts, args.batch, 64, args.batch_kind)

    import tensorflow as tf

    from minion_tf.precision import precision_policy

    ids, mask = tf.constant(ids), tf.constant(mask)
    labels = tf.constant(rng.integers(0, 2, size=args.batch))
    steps = {}
    for precision in precisions:
        tag = "" if precisions == ["float32"] else f"[{precision}] "
        with precision_policy(precision):
            backbone = encoder()
            forward = tf.function(partial(frozen_forward, backbone, ids, mask))
            states = forward()
            steps[f"{tag}encoder forward (all states)"] = forward
            for name in names:
                by_ids = name in ("finetune", "lora")
                inputs = {"ids": ids, "mask": mask} if by_ids else {"states": states, "mask": mask}
                # fine-tuning and LoRA get an encoder of their own, built as runs build it (trainable: a frozen
                # one's weights get no gradient; LoRA changes its encoder in place)
                model_backbone = encoder(trainable=True) if by_ids else backbone
                size = next(iter(METHODS[name].values()), "")
                step = build_step(name, METHODS[name], model_backbone, inputs, labels)
                step()  # trace and build the optimizer's slots
                steps[f"{tag}{name} {size} train step".replace("  ", " ")] = step
    config = backbone.encoder.config
    print(f"{args.encoder}{' (random weights)' if args.random_weights else ''}: batch {args.batch} x "
          f"{int(mask.shape[1])} tokens ({int(tf.reduce_sum(mask))} real), {args.repeats} alternations, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'all'} intra-op threads", flush=True)
    wall = {k: [] for k in steps}
    cpu = {k: [] for k in steps}
    for _ in range(args.repeats):
        for label, fn in steps.items():
            c0, t0 = time.process_time(), time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), fn())
            wall[label].append(time.perf_counter() - t0)
            cpu[label].append(time.process_time() - c0)
    base = encoder_flops(config.num_hidden_layers, config.hidden_size, config.intermediate_size, args.batch,
                         int(mask.shape[1]))
    forward_label = next(iter(steps))  # each ratio is against the float32 (or first) forward
    ref_wall, ref_cpu = (np.median(v[forward_label]) for v in (wall, cpu))
    print(f"{'step':42}{'wall s':>9}{'cpu s':>9}{'÷ forward':>11}{'cpu ÷ fwd':>11}{'arithmetic':>12}")
    for label in steps:
        name = label.split("] ")[-1].split()[0]
        if name in ("read", "minion"):
            flops = side_flops(name, 64, backbone.num_states, backbone.model_dim, int(tf.size(mask)),
                               int(tf.reduce_sum(mask)))
            arith = f"{flops / base:12.2f}"
        elif name == "finetune":
            arith = f"{3.0:12.2f}"
        else:
            arith = f"{1.0:12.2f}" if name == "encoder" else f"{'':>12}"
        w, c = np.median(wall[label]), np.median(cpu[label])
        print(f"{label:42}{w:9.3f}{c:9.3f}{w / ref_wall:11.2f}{c / ref_cpu:11.2f}{arith}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
