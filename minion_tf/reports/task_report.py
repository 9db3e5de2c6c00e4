"""GLUE and IMDb results (DESIGN.md, papers 3 and 4), rebuilt from run.json files only.

Writes into one folder:
- `task_scores.md/.csv`: one row per (task, scale, method, lr), averaged over seeds: test
  score, the other test metrics, trainable parameters, epochs, train time and its ratio to
  full fine-tuning at lr 2e-5 on the same task (the Pittsburgh comparison);
- `score_vs_time_<task>.png`: validation score against elapsed training time, per method;
- `imdb_epochs.md/.csv`: per-epoch train loss, val accuracy and epoch time of IMDb runs
  (the UCSD report's table);
- `claims.md/.csv`: the Pittsburgh and UCSD claims as verdicts (`reports.task_claims`).
Tweet runs (no task, or task "tweets") are left to `minion_tf.reports.tables`, multi-task minBERT
runs (task "minbert") to `experiments/multitask_ablation.py`. Method labels and
row order come from the method registry (`minion_tf.reports.records`).

Example:
    >>> build_task_report([Path("runs/glue"), Path("runs/imdb")], Path("results/glue"))
    [PosixPath('results/glue/task_scores.md'), ...]
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from minion_tf.data.glue import TASKS
from minion_tf.errors import MinionError
from minion_tf.metrics.intervals import bootstrap_interval
from minion_tf.metrics.reliability_plot import save_png
from minion_tf.metrics.task_metrics import METRICS
from minion_tf.reports.compare import saved_test_outputs
from minion_tf.reports.markdown import write_table
from minion_tf.reports.records import encoder_name, method_label, method_rank
from minion_tf.reports.task_claims import TASK_CLAIMS_NOTE, task_claim_rows

BASELINE = ("finetune", 2e-5)  # (method label, lr) that times are compared with


def load_task_records(dirs) -> list[dict]:
    """Every GLUE / IMDb run.json under `dirs` (any depth); tweet and minBERT runs are skipped.

    Example:
        >>> [r["config"]["task"] for r in load_task_records([Path("runs/glue")])]
        ['rte', 'rte', 'sst2']
    """
    records = []
    for folder in map(Path, dirs):
        if not folder.is_dir():
            raise MinionError(f"{folder}: no such folder")
        for path in sorted(folder.rglob("run.json")):
            try:
                record = json.loads(path.read_text())
                config = record["config"]
                task = config.get("task", "tweets")
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
                raise MinionError(f"{path}: not a run record ({type(err).__name__}: {err})") from None
            if task in ("tweets", "minbert"):
                continue
            missing = [k for k in ("epochs", "test") if k not in record] + [
                f"config.{k}" for k in ("model", "lr") if k not in config]
            if missing:
                raise MinionError(f"{path}: not a run record (no {', '.join(missing)})")
            try:
                method_rank(config)  # its own options are valid
            except MinionError as err:
                raise MinionError(f"{path}: not a run record ({err})") from None
            records.append({**record, "run_dir": str(path.parent)})
    if not records:
        raise MinionError(f"no GLUE or IMDb run.json under {', '.join(map(str, dirs))}")
    return records


def best_epoch(record: dict) -> int | None:
    """Index of the restored epoch: `best_epoch`, else the arg-max of `val_score` (None without epochs)."""
    if record.get("best_epoch") is not None:
        return int(record["best_epoch"])
    scores = [_number(e.get("val_score")) for e in record["epochs"]]
    if not scores:
        return None
    return max(range(len(scores)), key=lambda i: -math.inf if math.isnan(scores[i]) else scores[i])


def _number(value) -> float:
    return math.nan if value is None else float(value)


def _scale(record: dict) -> tuple:
    config = record["config"]
    task = config["task"]
    if task == "text":  # your own data sets are told apart by their file or folder name
        task = f"text:{Path(config.get('data') or '?').name}"
    return task, config.get("encoder", "?"), record.get("data", {}).get("train")


def _groups(records: list[dict], key) -> dict:
    groups: dict = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return groups


def _glue_key(record: dict) -> tuple:
    return *_scale(record), method_label(record["config"]), record["config"]["lr"]


def _sorted_keys(groups: dict) -> list[tuple]:
    """The (task, encoder, train n, label, lr) keys in table order: scale, then (method order, name, size), lr."""
    def key(k):
        task, encoder, train, _, lr = k
        return task, encoder, -1 if train is None else train, method_rank(groups[k][0]["config"]), lr

    return sorted(groups, key=key)


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.fmean(values) if values else math.nan


def interval(record: dict, metric: str) -> str | None:
    """"[low, high]" in %: the 95 % bootstrap interval of `metric` over the run's test examples, from the
    predictions and labels saved beside its run.json (None for runs without them or with two test sets)."""
    found = saved_test_outputs(Path(record.get("run_dir", "")))
    if found is None:
        return None
    low, high = bootstrap_interval(METRICS[metric], *found)
    return f"[{100 * low:.1f}, {100 * high:.1f}]"


def _score_row(key: tuple, runs: list[dict], baseline_s: float | None) -> dict:
    task, encoder, train, label, lr = key
    spec = TASKS.get(task)
    primary = spec.primary if spec else (runs[0].get("task") or {}).get("metric")
    scores = [100 * _number(r["test"].get("score")) for r in runs]
    single = len(runs) == 1
    row = {"task": task, "encoder": encoder, "train n": train, "method": label, "lr": lr, "seeds": len(runs),
           "metric": primary, "score %": _mean(scores),
           "score std": None if single else statistics.stdev(scores),
           "score 95% CI": interval(_first_seed(runs), primary) if primary else None}
    names = dict.fromkeys(n for r in runs for n in r["test"].get("metrics", {}) if n != primary)
    for name in names:
        row[f"{name} %"] = _mean([100 * _number(r["test"].get("metrics", {}).get(name)) for r in runs])
        row[f"{name} 95% CI"] = interval(_first_seed(runs), name)
    params = runs[0].get("params", {})
    trainable, total = params.get("trainable"), params.get("total")
    train_s = _mean([_number(r.get("timings", {}).get("train_s")) for r in runs])
    bests = [best_epoch(r) for r in runs]
    share = 100 * trainable / total if trainable is not None and total else None
    row.update({"trainable params": trainable, "trainable %": share,
                "best epoch": _mean([math.nan if b is None else b + 1 for b in bests]),
                "epochs run": _mean([len(r["epochs"]) for r in runs]), "train s": train_s,
                "time vs finetune 2e-5": train_s / baseline_s if baseline_s else None})
    return row


def glue_rows(records: list[dict]) -> list[dict]:
    """Rows of `task_scores`: one per (task, encoder, train n, method, lr), seeds averaged.

    Example:
        >>> glue_rows(load_task_records(["runs/glue"]))[0]["score %"]
        66.2
    """
    groups = _groups(records, _glue_key)
    baseline = {key[:3]: _mean([_number(r.get("timings", {}).get("train_s")) for r in runs])
                for key, runs in groups.items() if key[3:] == BASELINE}
    return [_score_row(key, groups[key], baseline.get(key[:3])) for key in _sorted_keys(groups)]


def _first_seed(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["config"].get("seed", 0))


def _elapsed(epochs: list[dict]) -> list[float]:
    """`elapsed_s` of every epoch, else the running sum of `epoch_s`."""
    total, out = 0.0, []
    for e in epochs:
        total += _number(e.get("epoch_s"))
        out.append(_number(e["elapsed_s"]) if "elapsed_s" in e else total)
    return out


def plot_score_vs_time(records: list[dict], path: Path) -> Path:
    """PNG of validation score vs elapsed training seconds for one task's runs, one line per (method, lr).

    Each line is the lowest seed's run, a marker per epoch and a star on the restored (best) epoch.

    Example:
        >>> plot_score_vs_time([r for r in records if r["config"]["task"] == "rte"], Path("score_vs_time_rte.png"))
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    groups = _groups(records, _glue_key)
    keys = _sorted_keys(groups)
    # one colour per method, one line style per learning rate, one marker per scale
    methods = list(dict.fromkeys(key[3] for key in keys))
    lrs = sorted({key[4] for key in keys})
    scales = list(dict.fromkeys(key[:3] for key in keys))
    for key in keys:
        run = _first_seed(groups[key])
        x, y = _elapsed(run["epochs"]), [100 * _number(e.get("val_score")) for e in run["epochs"]]
        label = f"{key[3]} (lr {key[4]:g}" + (f", {key[2]} train)" if len(scales) > 1 else ")")
        (line,) = ax.plot(x, y, label=label, linewidth=1.2, markersize=4,
                          color=f"C{methods.index(key[3]) % 10}",
                          linestyle=["-", "--", ":", "-."][lrs.index(key[4]) % 4],
                          marker="osD^v"[scales.index(key[:3]) % 5])
        best = best_epoch(run)
        if best is not None and best < len(x):
            ax.plot([x[best]], [y[best]], marker="*", markersize=12, color=line.get_color(), linestyle="none")
    tasks = sorted({r["config"]["task"] for r in records})
    scales = sorted({f"{train} train examples, {encoder_name(enc)}"
                     for _, enc, train in map(_scale, records)})
    ax.set(xlabel="elapsed training time (s)", ylabel="validation score (%)",
           title=f"{', '.join(tasks)}: validation score vs training time\n({'; '.join(scales)}; star = best epoch)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(fig, path)


def _split(fraction) -> str | None:
    if fraction is None:
        return None
    train = round(100 * float(fraction))
    return f"{train}/{100 - train}"


def imdb_rows(records: list[dict]) -> list[dict]:
    """Rows of `imdb_epochs`: every epoch of the lowest seed's run per (method, train fraction, lr).

    Example:
        >>> imdb_rows(records)[0]
        {'method': 'finetune', 'train/val': '90/10', 'lr': 2e-05, 'seed': 0, 'trainable params': 4386178,
         'epoch': 1, 'train loss': 0.52, 'val accuracy %': 81.0, 'epoch s': 40.1}
    """
    imdb = [r for r in records if r["config"]["task"] == "imdb"]
    groups = _groups(imdb, lambda r: (method_label(r["config"]), r["config"].get("train_fraction"),
                                      r["config"]["lr"]))
    rows = []
    for label, fraction, lr in sorted(groups, key=lambda k: (method_rank(groups[k][0]["config"]), -(k[1] or 0), k[2])):
        run = _first_seed(groups[label, fraction, lr])
        for index, e in enumerate(run["epochs"]):
            rows.append({"method": label, "train/val": _split(fraction), "lr": lr, "seed": run["config"].get("seed"),
                         "trainable params": run.get("params", {}).get("trainable"),
                         "epoch": int(e.get("epoch", index)) + 1, "train loss": _number(e.get("loss")),
                         "val accuracy %": 100 * _number(e.get("val_accuracy", e.get("val_score"))),
                         "epoch s": _number(e.get("epoch_s"))})
    return rows


GLUE_HEAD = ["task", "encoder", "train n", "method", "lr", "seeds", "metric", "score %", "score std", "score 95% CI"]
GLUE_TAIL = ["trainable params", "trainable %", "best epoch", "epochs run", "train s", "time vs finetune 2e-5"]
GLUE_NOTE = ("Test split (GLUE: the dev set, MNLI's score the mean of matched and mismatched; IMDb: its test set). "
             "Score = the task's primary metric (column metric). Mean over seeds; score std is the sample "
             "standard deviation (— with one seed); the 95 % CI is a percentile bootstrap over the test examples "
             "(2,000 resamples) of the first seed's run, from its saved predictions. Metrics in % (correlations "
             "x 100). Best epoch "
             "(1-based) is the restored one; time vs finetune 2e-5 = train s / train s of full fine-tuning at "
             "lr 2e-5 on the same task and scale. Built from run.json files (and, for the intervals, the test "
             "predictions and labels saved beside them).")
IMDB_NOTE = ("Per epoch of the lowest seed's run; train/val = the split of the training data in %. "
             "Built from run.json files only.")


def build_task_report(dirs, out: Path) -> list[Path]:
    """Write task_scores, score_vs_time_<task>.png and (with IMDb runs) imdb_epochs into `out`; return the paths.

    Example:
        >>> build_task_report(["runs/glue"], Path("results/glue"))
    """
    records = load_task_records(dirs)
    out = Path(out)
    rows = glue_rows(records)
    fixed = GLUE_HEAD + GLUE_TAIL
    metrics = [c for c in dict.fromkeys(c for r in rows for c in r) if c not in fixed]
    paths = write_table(rows, out / "task_scores", columns=GLUE_HEAD + metrics + GLUE_TAIL, note=GLUE_NOTE)
    for task, runs in sorted(_groups(records, lambda r: r["config"]["task"]).items()):
        paths.append(plot_score_vs_time(runs, out / f"score_vs_time_{task}.png"))
    imdb = imdb_rows(records)
    if imdb:
        paths += write_table(imdb, out / "imdb_epochs", note=IMDB_NOTE)
    claims = task_claim_rows(records)
    if claims:
        paths += write_table(claims, out / "claims", columns=["claim", "verdict", "numbers"], note=TASK_CLAIMS_NOTE)
    return paths
