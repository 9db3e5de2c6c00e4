"""Paired comparison of two finished runs on the same test examples: every test metric's difference
with its 95 % paired bootstrap interval:
`python experiments/compare.py runs/text-minion-64-... runs/text-fasttext-...`."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.reports.compare import compare_runs  # noqa: E402
from minion_tf.runs.cli import guarded  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/compare.py", description=__doc__)
    p.add_argument("run_a", help="a finished run's folder (test_probs.npy and test_labels.npy beside run.json)")
    p.add_argument("run_b", help="the run it is compared with, on the same test examples")
    p.add_argument("--draws", type=int, default=2000, help="bootstrap resamples (default 2000)")
    args = p.parse_args(argv)

    def action():
        for name, (diff, low, high) in compare_runs(Path(args.run_a), Path(args.run_b), args.draws).items():
            print(f"{name}: {100 * diff:+.2f} points, 95% paired bootstrap [{100 * low:+.1f}, {100 * high:+.1f}]")

    return guarded(action)


if __name__ == "__main__":
    sys.exit(main())
