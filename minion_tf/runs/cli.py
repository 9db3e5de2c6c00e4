"""The command line of `experiments/run.py`: flags map onto `RunConfig`; errors print one line."""
from __future__ import annotations

import argparse
import sys

from minion_tf.cache import DTYPES as CACHE_DTYPES
from minion_tf.distribute import STRATEGIES
from minion_tf.errors import MinionError
from minion_tf.io import is_disk_full
from minion_tf.methods.base import flag, option_type
from minion_tf.methods.registry import methods, option_owners
from minion_tf.precision import POLICIES
from minion_tf.runs.config import DEFAULT_MAX_EXAMPLES, RunConfig
from minion_tf.runs.defaults import DATA_ENV


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="experiments/run.py",
                                description="Train and test one model on one task (tweets, a GLUE task or IMDb).")
    known = methods()
    p.add_argument("--model", default="minion", metavar="MODEL",
                   help=f"the method: {', '.join(known)} (default minion); its own options are below")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the method's, e.g. " + "; ".join(
                       f"{name} {cls().default_lr():g}" for name, cls in known.items() if not cls.Config.required())
                   + ")")
    add_shared_args(p)
    p.add_argument("--task", default="tweets",
                   help="tweets (default); text (your own data, see below); cola, sst2, mrpc, stsb, qqp, mnli, qnli, "
                        "rte, wnli or imdb, for which --data is a GLUE-layout folder or the IMDb CSV folder (default "
                        "../shared/data/glue or ../shared/data/imdb, else tensorflow-datasets without download); "
                        "minbert (with --model multitask: SST, paraphrase and STS on one encoder, --data the minBERT "
                        "folder, default ../shared/data/minbert; see experiments/multitask.py)")
    p.add_argument("--train-fraction", type=float, default=0.9,
                   help="GLUE/IMDb: share of train that trains; the rest validates (default 0.9; UCSD also 0.3)")
    p.add_argument("--max-test-examples", type=int, default=0,
                   help="GLUE/IMDb: seeded cap on each test set (default 0 = all)")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a validation gain of --min-delta and keep the best "
                        "epoch (default 2 on GLUE, 0 = off on tweets and IMDb)")
    p.add_argument("--min-delta", type=float, default=1e-3, help="smallest validation-score gain that counts")
    p.add_argument("--seeds", type=int, default=1, help="run seeds SEED..SEED+N-1 and average them (default 1)")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files to RUN/tensorboard")
    text = p.add_argument_group("--task text (your own labelled data in --data: a CSV/TSV file, split 80/10/10 "
                                "by class with the seed, or a folder of train/val/test files)")
    text.add_argument("--text-column", default="text", help="column of the texts (default text)")
    text.add_argument("--label-column", default="label",
                      help="column of the labels: any number of classes, or a number with --regression (default label)")
    text.add_argument("--pair-column", default=None, help="column of the second texts of sentence pairs")
    text.add_argument("--regression", action="store_true", help="labels are numeric scores (one output, MSE)")
    text.add_argument("--no-dedupe", action="store_true",
                      help="keep repeated texts (default: drop repeats, texts with two labels, and train/val texts "
                           "that also occur in test)")
    text.add_argument("--split-hashtags", action="store_true", help="split hashtags into words, as for tweets")
    text.add_argument("--anonymise", action="store_true", help="replace @users and URLs by <user> and <url>")
    p.add_argument("--describe", action="store_true",
                   help="print the parameter counts from the encoder's config and exit (no weights, no data)")
    add_method_args(p)
    return p


def add_method_args(p: argparse.ArgumentParser) -> None:
    """One flag per method option, from the methods' config dataclasses (methods that share a
    name share the flag); a flag left out keeps the method's default."""
    group = p.add_argument_group("method options (each goes with the methods named)")
    shared = {action.dest for action in p._actions}
    for name, owners in option_owners().items():
        if name in shared:
            raise MinionError(f"method {owners[0].name} ({owners[0].__module__}): its option {name!r} is a shared "
                              f"run flag ({flag(name)}); give the option another name")
        f = next(f for f in owners[0].Config.options() if f.name == name)
        kind = option_type(f)
        where = ", ".join(c.name for c in owners)
        if kind is bool:
            group.add_argument(flag(name), action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=f"{where}: {f.metadata['help']}")
        else:
            group.add_argument(flag(name), type=kind, default=argparse.SUPPRESS, metavar=name.upper(),
                               help=f"{where}: {f.metadata['help']}")


def add_shared_args(p: argparse.ArgumentParser) -> None:
    """The flags every tweet run shares (all but the model, h and lr); also used by the grid."""
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--encoder", default="minilm",
                   help="minilm (offline default), a local model directory, or a Hugging Face id")
    p.add_argument("--tokenizer", default=None, help="tokenizer JSON file or directory overriding the encoder's")
    p.add_argument("--data", default=None,
                   help=f"tweet folder (train_pos.txt/train_neg.txt), labelled CSV/TSV, or prepared folder; "
                        f"default ${DATA_ENV} or ../shared/data/tweets/sentiment140")
    p.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES,
                   help=f"seeded cap on the examples (tweets: after dedupe, before the 80/10/10 split; GLUE/IMDb: on "
                        f"train, before its train/val split; minbert: on each task's train set) "
                        f"(default {DEFAULT_MAX_EXAMPLES}; "
                        "0 = all)")
    p.add_argument("--max-length", type=int, default=64, help="tokens per tweet (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="folder for runs, prepared data and caches (default runs/)")
    p.add_argument("--cache-dir", default=None, help="hidden-state cache root (default OUT/cache)")
    p.add_argument("--no-cache", action="store_true", help="stream states from the encoder instead of caching")
    p.add_argument("--cache-budget-gb", type=float, default=20.0,
                   help="stream instead of caching when the cache would exceed this (default 20)")
    p.add_argument("--cache-dtype", choices=CACHE_DTYPES, default="float16",
                   help="how the cache stores the states: float16 (default) or int8 with a scale per token and state "
                        "(a little over half the bytes; a streaming run reads float16 states)")
    p.add_argument("--cache-layers", default=None, metavar="I,J,...",
                   help="side networks: the hidden states to cache and read, by index (0 = the embeddings' output, "
                        "the last layer's must be kept), e.g. 0,2,4,6 of MiniLM's 7 (default: every state)")
    p.add_argument("--strategy", choices=STRATEGIES, default="none",
                   help="none (default: one device), mirrored (the local GPUs, or the logical CPU devices) or "
                        "multiworker (the workers TF_CONFIG names; run the same command on each); --batch-size is "
                        "the global batch")
    p.add_argument("--precision", choices=tuple(POLICIES), default="float32",
                   help="float32 (default), or mixed precision (float32 weights) computing in bfloat16 (CPUs with "
                        "AVX512_BF16/AMX, recent GPUs) or float16 (GPUs): the frozen forward, the cache and training")


def config_from_args(args) -> RunConfig:
    values = {k: v for k, v in vars(args).items() if k != "describe"}
    for name in ("max_examples", "max_test_examples"):
        if values.get(name) == 0:
            values[name] = None
    options = {name: values.pop(name) for name in option_owners() if name in values}
    return RunConfig(**values, options=options)


RESUME_HINT = "interrupted: rerun the same command to resume after the last finished epoch"


def guarded(action, interrupted: str = RESUME_HINT) -> int:
    """Run `action()` for a command line: exit code 0; a `MinionError` prints one `error: ...` line
    (2); Ctrl-C prints how to resume (130). No traceback reaches the user for bad input.

    Example:
        >>> sys.exit(guarded(lambda: run(config)))
    """
    try:
        action()
    except MinionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # a full disk met by a writer outside minion_tf.io (energy.csv, TensorBoard)
        if not (is_disk_full(err) or type(err).__name__ == "ResourceExhaustedError" and "space" in str(err).lower()):
            raise
        print(f"error: disk full ({type(err).__name__}: {str(err).splitlines()[0]}); free some space and rerun "
              "to resume", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
    return 0


def main(argv=None) -> int:
    args = []

    def parse():  # the parser lists the methods: a broken plugin is one line too
        args.append(parser().parse_args(argv))

    if (code := guarded(parse)) != 0:
        return code
    args = args[0]

    def action():
        config = config_from_args(args)
        from minion_tf.runs.runner import describe, run

        describe(config) if args.describe else run(config)

    return guarded(action)
