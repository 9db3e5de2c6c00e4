"""Prepare labelled tweets: normalise, dedupe, seeded 80/10/10 split into TSVs plus stats.json.

Example:
    python data_prep/prepare_tweets.py --source ../shared/data/tweets/sentiment140 --out data/prepared --seed 0
"""
import argparse
import sys
import time
from pathlib import Path

from minion_tf.process import setup_command

setup_command()

from minion_tf.data.prepare import PrepareConfig, prepare  # noqa: E402
from minion_tf.errors import MinionError  # noqa: E402


def parse_label_map(text: str) -> dict[str, int]:
    """`"-1:0,1:1"` -> `{"-1": 0, "1": 1}`."""
    label_map = {}
    for item in text.split(","):
        raw, colon, value = item.rpartition(":")
        if not colon or not raw.strip() or not value.strip().isdigit():
            raise MinionError(f"--label-map: {item!r} is not 'label:integer' (example: -1:0,1:1)")
        label_map[raw.strip()] = int(value)
    return label_map


def _labels(counts: dict) -> str:
    return ", ".join(f"label {y}: {n}" for y, n in counts["labels"].items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="competition directory (train_pos.txt, train_neg.txt) or a labelled .csv/.tsv")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-examples", type=int, help="cap on examples after dedupe and shuffle")
    parser.add_argument("--no-hashtags", action="store_true", help="keep hashtags as they are")
    parser.add_argument("--no-anonymise", action="store_true", help="keep @handles and URLs")
    parser.add_argument("--full", action="store_true", help="read train_pos_full.txt and train_neg_full.txt")
    parser.add_argument("--text-col", default="text", help="text column of a CSV/TSV source")
    parser.add_argument("--label-col", default="label", help="label column of a CSV/TSV source")
    parser.add_argument("--label-map", default="0:0,1:1",
                        help="allowed labels of a CSV/TSV source and their integers, e.g. -1:0,1:1")
    args = parser.parse_args(argv)
    try:
        config = PrepareConfig(
            seed=args.seed, max_examples=args.max_examples, split_hashtags=not args.no_hashtags,
            anonymise=not args.no_anonymise, full=args.full, text_col=args.text_col,
            label_col=args.label_col, label_map=parse_label_map(args.label_map),
        )
        start = time.perf_counter()
        stats = prepare(args.source, args.out, config)
    except MinionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    removed, words = stats["removed"], stats["words_per_text"]
    print(f"read {stats['read']['rows']} texts ({_labels(stats['read'])}) from {stats['source']}")
    print(f"removed {removed['duplicates']} duplicates and {removed['conflicting_rows']} rows of "
          f"{removed['conflicting_texts']} texts seen with more than one label")
    kept, written = stats["after_dedupe"], stats["written"]
    print(f"kept {kept['rows']} ({_labels(kept)}), wrote {written['rows']} ({_labels(written)})")
    for name, split in stats["splits"].items():
        print(f"  {name}: {split['rows']} ({_labels(split)})")
    print("words per text: " + ", ".join(f"{k} {v:g}" for k, v in words.items()))
    print(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
