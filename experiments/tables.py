"""Rebuild the paper's Tables I-II, Fig. 3, the verdicts on its claims and the cost against full fine-tuning
(cost_at_scale.md) from run JSONs and the test outputs saved beside them:
`python experiments/tables.py --runs runs/tweets --out results`."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.reports.tweet_reports import build_tweet_reports  # noqa: E402
from minion_tf.runs.cli import guarded  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/tables.py", description=__doc__)
    p.add_argument("--runs", default="runs", help="folder searched (at any depth) for run.json files")
    p.add_argument("--out", default="results", help="where table1, table2, claims (.md, .csv) and calibration.png go")
    args = p.parse_args(argv)

    def action():
        paths = build_tweet_reports(Path(args.runs), Path(args.out))
        print("wrote " + ", ".join(map(str, paths)))

    return guarded(action)


if __name__ == "__main__":
    sys.exit(main())
