"""The paper's grid, resumable: `python experiments/grid.py --max-examples 4000 --results results`
runs READ and MINION for every h in {8,...,256} and lr in {3e-4, 1e-3}, then writes results/grid.{md,csv}."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.runs.cli import add_shared_args, guarded  # noqa: E402
from minion_tf.runs.grid import HIDDENS, LRS, MODELS, GridConfig, run_grid, write_grid_table  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="experiments/grid.py", description=__doc__)
    p.add_argument("--models", nargs="+", default=list(MODELS), help="sized methods (default: read minion; also lst, lora, ... at their default size)")
    p.add_argument("--hiddens", nargs="+", type=int, default=list(HIDDENS), help="h values (default 8 ... 256)")
    p.add_argument("--lrs", nargs="+", type=float, default=list(LRS), help="learning rates (default 3e-4 1e-3)")
    p.add_argument("--results", default="results", help="folder for grid.md and grid.csv (default results/)")
    p.add_argument("--table-only", action="store_true", help="rewrite the table from finished runs; train nothing")
    add_shared_args(p)
    args = p.parse_args(argv)
    base = {k: v for k, v in vars(args).items() if k not in ("models", "hiddens", "lrs", "results", "table_only")}
    if base["max_examples"] == 0:
        base["max_examples"] = None

    def action():
        grid = GridConfig(tuple(args.models), tuple(args.hiddens), tuple(args.lrs), base)
        if not args.table_only:
            run_grid(grid, Path(args.results))
        print("wrote " + ", ".join(map(str, write_grid_table(grid, Path(args.results)))))

    return guarded(action, "interrupted: rerun the same command; finished cells are skipped, the cut one resumes")


if __name__ == "__main__":
    sys.exit(main())
