"""The fine-tuning family on GLUE (Pittsburgh) or IMDb (UCSD), resumable, then its tables and plots.

    python experiments/transfer.py glue --max-examples 500 --epochs 4 --out runs/glue --results results/glue
    python experiments/transfer.py imdb --max-examples 300 --epochs 10 --out runs/imdb --results results/imdb

Finished runs are skipped and a cut one resumes; each run (each seed) has a process of its own (`runs.isolated`);
the tables are rebuilt from every run.json under --out.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.errors import MinionError  # noqa: E402
from minion_tf.reports.task_report import build_task_report  # noqa: E402
from minion_tf.runs.cli import guarded  # noqa: E402
from minion_tf.runs.isolated import run_isolated  # noqa: E402
from minion_tf.runs.suites import GLUE_TASKS, glue_suite, imdb_suite  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/transfer.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", choices=("glue", "imdb"))
    p.add_argument("--tasks", nargs="+", default=list(GLUE_TASKS), help="glue: tasks (default: %(default)s)")
    p.add_argument("--fractions", nargs="+", type=float, default=[0.9, 0.3], help="imdb: train fractions")
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--max-examples", type=int, default=500, help="seeded cap on each task's train set")
    p.add_argument("--max-test-examples", type=int, default=0, help="seeded cap on each test set (0 = all)")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a validation gain, keeping the best (default: the "
                        "task's, 2 on GLUE, 0 = off on IMDb)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per configuration, averaged in the table")
    p.add_argument("--seeded", nargs="+", default=None, metavar="LABEL",
                   help="glue: only these runs (e.g. finetune freeze-4 bitfit minion-64) take --seeds seeds, at "
                        "2e-5 or their own rate, the others one (default: every run); the further seeds come last")
    p.add_argument("--high-lr", nargs="+", default=None, metavar="LABEL",
                   help="glue: only these runs of full and last-k fine-tuning (e.g. finetune freeze-4) also run at "
                        "1e-3 (default: all five)")
    p.add_argument("--out", default="runs/transfer", help="folder of the runs")
    p.add_argument("--results", default="results/glue", help="folder of the tables and plots")
    args = p.parse_args(argv)
    base = {"encoder": args.encoder, "max_examples": args.max_examples or None, "max_length": args.max_length,
            "max_test_examples": args.max_test_examples or None, "epochs": args.epochs,
            "batch_size": args.batch_size, "seeds": args.seeds, "patience": args.patience, "out": args.out}

    def action():
        if (args.seeded or args.high_lr) and args.suite != "glue":
            raise MinionError(f"--{'seeded' if args.seeded else 'high-lr'} goes with the glue suite")
        configs = (glue_suite(base, args.tasks, seeded=args.seeded, high_lr=args.high_lr) if args.suite == "glue"
                   else imdb_suite(base, args.fractions))
        for i, config in enumerate(configs, 1):
            seeds = f", {config.seeds} seeds" if config.seeds > 1 else ""
            print(f"[{i}/{len(configs)}] {config.task} {config.label()} lr {config.resolved_lr():g}{seeds}", flush=True)
            run_isolated(config)
        print("wrote " + ", ".join(map(str, build_task_report([Path(args.out)], Path(args.results)))))

    return guarded(action, "interrupted: rerun the same command; finished runs are skipped, the cut one resumes")


if __name__ == "__main__":
    sys.exit(main())
