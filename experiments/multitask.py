"""Multi-task minBERT (SST, paraphrase, STS) on one shared encoder: `python experiments/multitask.py --pcgrad`.

Flags map onto `minion_tf.runs.multitask_config.MultitaskConfig`; bad input prints one
`error: ...` line and exits 2. Each run writes OUT/NAME/run.json, is skipped when that file
exists, and resumes after its last finished epoch when interrupted.

Examples:
    python experiments/multitask.py --max-examples-per-task 1000 --epochs 2 --gse
    python experiments/multitask.py --sts-head cosine --pooling mean --describe
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.runs.cli import guarded  # noqa: E402
from minion_tf.runs.multitask_config import DEFAULT_MAX_EXAMPLES, DEFAULT_SST_LOSS_WEIGHT, MultitaskConfig  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="experiments/multitask.py", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--encoder", default="minilm", help="minilm, a local model directory, or a Hugging Face id")
    p.add_argument("--data", default=None, help="minBERT folder (default ../shared/data/minbert)")
    p.add_argument("--epochs", type=int, default=2, help="joint epochs")
    p.add_argument("--batch-size", type=int, default=16, help="examples per task in each mixed batch")
    p.add_argument("--lr", type=float, default=5e-5, help="Adam learning rate")
    p.add_argument("--max-length", type=int, default=64, help="tokens per input (a joint pair counts once)")
    p.add_argument("--max-examples-per-task", type=int, default=DEFAULT_MAX_EXAMPLES,
                   help="seeded subset of each task's training set (0 = all)")
    p.add_argument("--max-dev-examples", type=int, default=0, help="seeded subset of each dev set (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split-seed", type=int, default=0, help="seed of the Quora 90/10 split and the subsets")
    p.add_argument("--out", default="runs/multitask", help="runs go to OUT/NAME/")
    p.add_argument("--name", default=None, help="run folder name (default: derived from the settings)")
    p.add_argument("--pcgrad", action="store_true", help="PCGrad on the shared encoder's per-task gradients")
    p.add_argument("--gse", action="store_true", help="per step: one PCGrad update, then one plain update")
    p.add_argument("--smart", action="store_true", help="SMART adversarial smoothness regulariser")
    p.add_argument("--smart-lambda", type=float, default=5.0)
    p.add_argument("--smart-step", type=float, default=1e-3)
    p.add_argument("--smart-eps", type=float, default=1e-5)
    p.add_argument("--smart-noise", type=float, default=1e-5)
    p.add_argument("--select-fraction", type=float, default=None,
                   help="train only this fraction of encoder weights, top by squared gradient over one pass")
    p.add_argument("--sts-head", choices=("mlp", "cosine", "uvcos"), default="mlp",
                   help="mlp: joint pair; cosine: 5*sigmoid(20*cos(u,v)); uvcos: MLP on [u; v; cos]")
    p.add_argument("--pooling", choices=("cls", "mean"), default="mean", help="how a head pools its tokens")
    p.add_argument("--loss-reduction", choices=("mean", "sum"), default="mean", help="combine task losses")
    p.add_argument("--cfimdb", action="store_true", help="also train CFIMDB 2-class from the SST logits")
    p.add_argument("--kl-consistency", type=float, nargs="?", const=1.0, default=0.0,
                   help="weight of the SST-head KL consistency on Quora duplicates and STS pairs > 4.5 "
                        "(flag alone = 1.0)")
    p.add_argument("--sst-loss-weight", type=float, default=DEFAULT_SST_LOSS_WEIGHT,
                   help="weight of the SST loss (the first report's value is not given; 1.0 = unweighted)")
    p.add_argument("--iterations-multiplier", type=int, default=1, help="steps per epoch multiplier")
    p.add_argument("--final-task-stage", type=int, default=0,
                   help="epochs per task of a final stage training one head with everything else frozen")
    p.add_argument("--head-dropout", type=float, default=0.1)
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files to RUN/tensorboard")
    p.add_argument("--describe", action="store_true",
                   help="print the parameter counts from the encoder's config and exit (no weights, no data)")
    return p


def config_from_args(args) -> MultitaskConfig:
    values = {k: v for k, v in vars(args).items() if k != "describe"}
    for key in ("max_examples_per_task", "max_dev_examples"):
        if values[key] == 0:
            values[key] = None
    return MultitaskConfig(**values)


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    def action():
        config = config_from_args(args)
        from minion_tf.runs.multitask import describe, run

        describe(config) if args.describe else run(config)

    return guarded(action)


if __name__ == "__main__":
    sys.exit(main())
