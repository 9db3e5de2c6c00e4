"""Multi-task minBERT (SST, paraphrase, STS) on one shared encoder: `python experiments/multitask.py --pcgrad`.

This is `experiments/run.py --task minbert --model multitask` (the one runner; its --help lists
every flag, the multi-task ones under "method options") with this script's defaults: 2 joint
epochs, batch size 16 (examples of each task per mixed batch), 2,000 training examples per task
(`--max-examples`), lr 5e-5 (the method's), runs in runs/multitask/. Flags you give win over
these. Each run writes OUT/minbert-multitask-lrLR-sSEED-KEY/run.json, is skipped when that file
exists, and resumes after its last finished epoch when interrupted; bad input prints one
`error: ...` line and exits 2.

Flags of the earlier script: `--max-examples-per-task N` is `--max-examples N`; `--kl-consistency`
alone is `--kl-consistency 1`; `--name` is gone (a run's folder is named by its settings; choose
the folder above it with `--out`).

Examples:
    python experiments/multitask.py --max-examples 1000 --epochs 2 --gse
    python experiments/multitask.py --sts-head cosine --pooling mean --describe
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.errors import MinionError  # noqa: E402
from minion_tf.runs import cli  # noqa: E402

DEFAULTS = ("--task", "minbert", "--model", "multitask", "--epochs", "2", "--batch-size", "16",
            "--max-examples", "2000", "--out", "runs/multitask")
RENAMED = {"--max-examples-per-task": "--max-examples"}
GONE = {"--name": "--name is gone: a run's folder is named by its settings (OUT/minbert-multitask-lrLR-sSEED-KEY); "
                  "choose the folder above it with --out"}


def translate(argv: list[str]) -> list[str]:
    """The earlier script's flags in the runner's terms (one `MinionError` line for a flag that is gone)."""
    out = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in GONE:
            raise MinionError(GONE[name])
        out.append(RENAMED.get(name, name) + eq + value)
        if arg == "--kl-consistency" and (i + 1 == len(argv) or argv[i + 1].startswith("--")):
            out.append("1")  # the flag alone meant weight 1
    return out


def full_argv(argv: list[str]) -> list[str]:
    """The runner's arguments: this script's defaults, then the user's flags (the later wins)."""
    return [*DEFAULTS, *translate(list(argv))]


def config_for(argv: list[str]):
    """The `RunConfig` these flags give (e.g. to find a run's folder without running it)."""
    return cli.config_from_args(cli.parser().parse_args(full_argv(argv)))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        full = full_argv(argv)
    except MinionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return cli.main(full)


if __name__ == "__main__":
    sys.exit(main())
