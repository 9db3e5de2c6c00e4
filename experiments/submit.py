"""Write a Kaggle submission from a finished run:
`python experiments/submit.py --run runs/tweets/minion-64-lr0.0003-s0-... --out submission.csv`."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.runs.cli import guarded  # noqa: E402
from minion_tf.runs.defaults import shared_data_root  # noqa: E402
from minion_tf.submission import write_submission  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/submit.py", description=__doc__)
    p.add_argument("--run", required=True, help="a finished run's folder (with run.json and its saved model)")
    p.add_argument("--test-data", default=str(shared_data_root() / "cil_test" / "test_data.txt"),
                   help="the competition's test_data.txt (default ../shared/data/cil_test/test_data.txt)")
    p.add_argument("--out", required=True, help="submission CSV to write (Id,Prediction)")
    args = p.parse_args(argv)

    def action():
        summary = write_submission(Path(args.run), Path(args.test_data), Path(args.out))
        print(f"wrote {args.out}: {summary['rows']} rows, {100 * summary['positive_share']:.1f} % positive")

    return guarded(action)


if __name__ == "__main__":
    sys.exit(main())
