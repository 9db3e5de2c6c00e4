"""Rebuild the paper's Tables I-II and Fig. 3 from run JSONs only:
`python experiments/tables.py --runs runs/tweets --out results`."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.reports.tables import build_tables  # noqa: E402
from minion_tf.runs.cli import guarded  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/tables.py", description=__doc__)
    p.add_argument("--runs", default="runs", help="folder searched (at any depth) for run.json files")
    p.add_argument("--out", default="results", help="where table1/table2 (.md, .csv) and calibration.png go")
    args = p.parse_args(argv)

    def action():
        print("wrote " + ", ".join(map(str, build_tables(Path(args.runs), Path(args.out)))))

    return guarded(action)


if __name__ == "__main__":
    sys.exit(main())
