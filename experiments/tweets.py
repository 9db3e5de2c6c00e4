"""The ETH paper's tweet comparison at one scale, resumable, then Tables I-II, the calibration figure and
the verdicts on the paper's claims (claims.md) and the cost against full fine-tuning (cost_at_scale.md):

    python experiments/tweets.py --max-examples 0 --out runs/tweets_all --results results/tweets_all

fastText, full fine-tuning, READ and MINION at h = 64, 8, 256, LoRA-8 and LST-8 (`runs.suites.tweet_suite`:
the core comparison first, then the other h, then LoRA and LST). Finished runs are skipped and a cut one
resumes; each run has a process of its own (`runs.isolated`), so no run's memory counts in the next's; READ and
MINION share one hidden-state cache. The tables are rebuilt from every run.json under
--out at the end (`experiments/tables.py` rebuilds them at any time).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.reports.tweet_reports import build_tweet_reports  # noqa: E402
from minion_tf.runs.cli import add_shared_args, guarded  # noqa: E402
from minion_tf.runs.isolated import run_isolated  # noqa: E402
from minion_tf.runs.suites import TWEET_HIDDENS, tweet_suite  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/tweets.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hiddens", nargs="+", type=int, default=list(TWEET_HIDDENS),
                   help="READ's and MINION's h, the first in the first pass (default: %(default)s)")
    p.add_argument("--results", default="results", help="folder of the tables and figure (default results/)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and whether each is finished; train nothing")
    add_shared_args(p)
    args = p.parse_args(argv)
    base = {k: v for k, v in vars(args).items() if k not in ("hiddens", "results", "dry_run")}
    base["max_examples"] = base["max_examples"] or None

    def action():
        configs = tweet_suite(base, tuple(args.hiddens))
        for i, config in enumerate(configs, 1):
            done = (config.run_dir() / "run.json").is_file()
            print(f"[{i}/{len(configs)}] {config.label()} lr {config.resolved_lr():g}" + (" (finished)" if done else ""),
                  flush=True)
            if not args.dry_run:
                run_isolated(config)  # a finished run is read back, not redone
        if not args.dry_run:
            paths = build_tweet_reports(Path(args.out), Path(args.results))
            print("wrote " + ", ".join(map(str, paths)))

    return guarded(action, "interrupted: rerun the same command; finished runs are skipped, the cut one resumes")


if __name__ == "__main__":
    sys.exit(main())
