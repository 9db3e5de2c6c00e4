"""The paper's grid: h in {8, ..., 256} x lr in {3e-4, 1e-3} for READ and MINION, resumable.

Other methods join it at their sizes: a method whose size is `hidden` takes the grid's h
values, any other (LST's reduction, LoRA's rank) its `sizes` entry or its default size.

Every cell is one `run()`: a cell whose run.json exists is skipped, an interrupted one
resumes after its last finished epoch (it has no run.json until it is done), and all cells
with the same data and encoder read one hidden-state cache. The grid table is rewritten
after every cell (and when one is cut short), so it shows what is finished.

Example:
    >>> run_grid(GridConfig(base={"max_examples": 4000}), Path("results"))
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.methods.registry import method_class
from minion_tf.reports.compare import in_points, score_interval
from minion_tf.reports.markdown import write_table
from minion_tf.runs.config import RunConfig

HIDDENS = (8, 16, 32, 64, 128, 256)
LRS = (3e-4, 1e-3)
MODELS = ("read", "minion")
COLUMNS = ["model", "size", "lr", "trainable %", "best val acc %", "test acc %", "test acc % low", "test acc % high",
           "test ACE %", "test ACE % low", "test ACE % high", "test MCE %", "train s", "status"]
JOINED = {"test acc 95% CI": ("test acc % low", "test acc % high"),
          "test ACE 95% CI": ("test ACE % low", "test ACE % high")}


@dataclass
class GridConfig:
    """The cells (models x sizes x lrs) and the RunConfig fields they share (`base`).

    `sizes` maps a model to the values of its size option; models sized by `hidden` default to
    `hiddens`, others to their default size.
    """

    models: tuple = MODELS
    hiddens: tuple = HIDDENS
    lrs: tuple = LRS
    base: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)

    def __post_init__(self):
        for model in self.models:
            if method_class(model).size_option is None:
                raise MinionError(f"grid: --model {model} has no size to vary")
        if not (self.models and self.hiddens and self.lrs):
            raise MinionError("grid: needs at least one model, one h and one lr")
        clash = {"model", "options", "lr"} & set(self.base)
        if clash:
            raise MinionError(f"grid: {', '.join(sorted(clash))} are set by the grid, not by base")
        unknown = set(self.base) - {f.name for f in fields(RunConfig)}
        if unknown:
            raise MinionError(f"grid: {', '.join(sorted(unknown))} are not run fields (sizes go in `sizes`)")
        self.configs()  # every cell's RunConfig validates itself

    def model_sizes(self, model: str) -> tuple:
        option = method_class(model).size_option
        if model in self.sizes:
            return tuple(self.sizes[model])
        return tuple(self.hiddens) if option == "hidden" else (getattr(method_class(model).Config(), option),)

    def configs(self) -> list[RunConfig]:
        """Cells ordered by size rank, then model, then lr: a partial grid still compares READ and MINION."""
        cells = [(rank, m, size) for m in self.models for rank, size in enumerate(self.model_sizes(m))]
        return [RunConfig(model=m, options={method_class(m).size_option: size}, lr=float(lr), **self.base)
                for rank, m, size in sorted(cells, key=lambda c: (c[0], self.models.index(c[1]))) for lr in self.lrs]


def grid_row(config: RunConfig) -> dict:
    """One table row: the finished run's figures, or an empty row saying what state the cell is in."""
    row = {"model": config.model.upper(), "size": config.method.size(), "lr": config.resolved_lr()}
    path = config.run_dir() / "run.json"
    if not path.is_file():
        started = (config.run_dir() / "progress" / "progress.json").is_file()
        return {**row, "status": "interrupted" if started else "not run"}
    record = json.loads(path.read_text())
    params, test = record["params"], record["test"]
    intervals = {}  # 95 % bootstrap over the test examples, where their outputs were saved
    for score, name in (("accuracy", "test acc 95% CI"), ("ace", "test ACE 95% CI")):
        intervals.update(zip(JOINED[name], in_points(score_interval(config.run_dir(), score))))
    return {**row, "trainable %": 100 * params["trainable"] / params["total"],
            "best val acc %": 100 * max(e.get("val_accuracy", float("nan")) for e in record["epochs"]),
            "test acc %": 100 * test["accuracy"], "test ACE %": 100 * test["ace"], "test MCE %": 100 * test["mce"],
            **intervals, "train s": record["timings"].get("train_s"), "status": "done", "data": record.get("data")}


def write_grid_table(grid: GridConfig, out_dir: Path) -> list[Path]:

    rows = [grid_row(c) for c in grid.configs()]
    sizes = {tuple(data.get(k) for k in ("train", "val", "test"))
             for data in (r.pop("data", None) for r in rows) if data}
    scale = "; ".join(f"{train:,} train / {val:,} val / {test:,} test" for train, val, test in sorted(sizes))
    base = ", ".join(f"{k}={v}" for k, v in sorted(grid.base.items()))
    note = (f"Grid over h x lr (the paper's), one seed a cell{f', {scale} examples' if scale else ''}; shared run "
            f"settings: {base or 'defaults'}. 95 % intervals: percentile bootstrap over the test examples (2,000 "
            "resamples); ACE is biased upwards on resamples, so its interval can lie above the estimate. "
            "train s: single measurements on a shared machine. Built from run.json files.")
    return write_table(rows, Path(out_dir) / "grid", COLUMNS, note, joined=JOINED)


def run_grid(grid: GridConfig, out_dir: Path) -> list[dict]:
    """Run every cell not yet finished (in order), rewriting the grid table after each."""
    from minion_tf.runs.runner import run

    records = []
    configs = grid.configs()
    for number, config in enumerate(configs, 1):
        print(f"grid [{number}/{len(configs)}] {config.label()} lr {config.resolved_lr():g}",
              flush=True)
        try:
            records.append(run(config))
        finally:  # an interrupted cell shows as such
            write_grid_table(grid, out_dir)
    return records
