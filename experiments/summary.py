"""Write the one-screen summary of verdicts and cost ratios at the top of results/README.md, from the
claims and cost tables under --results: `python experiments/summary.py` (rerun after any table changes)."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.reports.summary import write_summary  # noqa: E402
from minion_tf.runs.cli import guarded  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/summary.py", description=__doc__)
    p.add_argument("--results", default="results", help="folder of the tables and of README.md")
    args = p.parse_args(argv)
    return guarded(lambda: print(f"wrote the summary at the top of {write_summary(Path(args.results))}"))


if __name__ == "__main__":
    sys.exit(main())
