"""Rebuild the GLUE / IMDb tables and score-vs-time figures from run JSONs only:
`python experiments/task_tables.py --runs runs/glue runs/imdb --out results/glue`."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.reports.task_report import build_task_report  # noqa: E402
from minion_tf.runs.cli import guarded  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/task_tables.py", description=__doc__)
    p.add_argument("--runs", nargs="+", default=["runs"], help="folders searched (at any depth) for run.json files")
    p.add_argument("--out", default="results/glue",
                   help="where task_scores and imdb_epochs (.md, .csv) and score_vs_time_<task>.png go")
    args = p.parse_args(argv)

    def action():
        print("wrote " + ", ".join(map(str, build_task_report([Path(d) for d in args.runs], Path(args.out)))))

    return guarded(action)


if __name__ == "__main__":
    sys.exit(main())
