"""Predict new texts with any finished run (run.py or multitask.py):
`python experiments/predict.py --run runs/tweets/minion-64-lr0.0003-s0-... --input new_tweets.txt --out preds.csv`."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.runs.cli import guarded  # noqa: E402
from minion_tf.runs.predict import predict_file  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/predict.py", description=__doc__)
    p.add_argument("--run", required=True, help="a finished run's folder (with run.json and its saved model)")
    p.add_argument("--input", required=True, help="a text file (one text a line) or, with --text-column, a CSV/TSV")
    p.add_argument("--out", required=True, help="predictions CSV to write: id,label,p_<label>... (or id,score)")
    p.add_argument("--text-column", default=None, help="the input table's column of texts")
    p.add_argument("--pair-column", default=None, help="the input table's column of second texts (pair tasks)")
    p.add_argument("--id-column", default=None, help="the input table's column of ids (default: row 1, 2, ...)")
    p.add_argument("--head", default=None, help="multi-task runs: the head to predict with, sst, para or sts")
    args = p.parse_args(argv)

    def action():
        s = predict_file(Path(args.run), Path(args.input), Path(args.out), args.text_column, args.pair_column,
                         args.id_column, args.head)
        print(f"wrote {args.out}: {s['rows']} rows; model loaded in {s['load_s']:.1f} s, "
              f"{s['rows'] / s['predict_s']:.0f} texts/s")

    return guarded(action)


if __name__ == "__main__":
    sys.exit(main())
