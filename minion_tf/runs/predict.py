"""Predict with any finished run on new texts: the library of `experiments/predict.py` and of submissions.

A run's task (label names, single texts or pairs, how its training texts were normalised) is
read from its run.json (`record["task"]`; for runs made before that key, from the task's spec
and, for tweets, the prepared data's `stats.json`). Its model comes from its method's
`load_predictor` (for a method with heads, the multi-task one, the chosen `--head`'s). Texts
are normalised as the run's were, then fed in chunks of `CHUNK` (length-bucketed batches
inside) under a progress bar. Everything about the input is checked before a model loads.

The CSV has one row per input, in input order: `id` (the 1-based input row, or the input's
own id column), `label` (the run's label name of the most probable class) and `p_<label>`
for each class; for a regression (STS-B, the multi-task `sts` head) `id,score`.

Example:
    >>> predict_file(Path("runs/tweets/minion-64-lr0.0003-s0-..."), Path("new_tweets.txt"), Path("preds.csv"))
    >>> task = run_task(Path("runs/glue/rte-freeze-1-lr0.001-s0-..."))
    >>> predict_texts(load_predictor(Path("runs/glue/rte-freeze-1-lr0.001-s0-..."), task), task, ["A man sleeps."],
    ...               ["He rests."])
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from minion_tf.data.text import normalize_tweet
from minion_tf.data.tweets import read_columns, read_lines
from minion_tf.errors import MinionError
from minion_tf.io import write_text
from minion_tf.methods.registry import method_class, methods
from minion_tf.runs.task_data import TWEETS, task_spec, tweet_normalisation

CHUNK = 2048  # texts per call of a predictor: the progress bar moves, memory stays bounded


@dataclass(frozen=True)
class RunTask:
    """What a finished run predicts and how its inputs look.

    `labels`: names in class-id order, None for a regression score; `normalise`: the flags of
    `normalize_tweet`, None when texts are used as given; `head`: a multi-task run's head.
    """

    name: str
    model: str
    labels: tuple[str, ...] | None
    pair: bool
    normalise: dict | None = None
    head: str | None = None

    def columns(self) -> list[str]:
        return ["id", "score"] if self.labels is None else ["id", "label", *(f"p_{name}" for name in self.labels)]

    def normalised(self, texts: list[str]) -> list[str]:
        if self.normalise is None:
            return list(texts)
        return [normalize_tweet(t, **self.normalise) for t in texts]


def read_record(run_dir: Path) -> dict:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise MinionError(f"{run_dir}: no run.json (not a finished run)")
    return json.loads(path.read_text())


def run_task(run_dir: Path, head: str | None = None) -> RunTask:
    """The task of a finished run (`head`: which head of a multi-task run); reads no weights."""
    record = read_record(run_dir)
    config = record["config"]
    model = config.get("model", "multitask")  # the records of experiments/multitask.py before the runner had none
    heads = getattr(methods().get(model), "heads", {})
    if heads:
        if head not in heads:
            given = "no --head" if head is None else f"unknown --head {head!r}"
            raise MinionError(f"{run_dir}: a multi-task run, {given}; choose one of {', '.join(heads)}")
        labels, pair = heads[head]
        return RunTask(f"{model} {head}", model, labels, pair, head=head)
    if head is not None:
        raise MinionError(f"{run_dir}: --head is for multi-task runs; this is a {model} run "
                          f"on {config.get('task', 'tweets')}")
    task = record.get("task") or _task_before_records_had_it(record)
    labels = None if task["labels"] is None else tuple(task["labels"])
    return RunTask(task["name"], config["model"], labels, bool(task["pair"]), task["normalise"])


def _task_before_records_had_it(record: dict) -> dict:
    """`record["task"]` of an older run: the task's spec; for tweets, `stats.json`'s normalisation."""
    spec = task_spec(record["config"].get("task", "tweets"))
    task = {"name": spec.name, "labels": spec.labels, "pair": spec.is_pair, "normalise": None}
    if spec is TWEETS:
        task["normalise"] = tweet_normalisation(record["prepared"])
    return task


def load_predictor(run_dir: Path, task: RunTask):
    """`predict(texts, pairs=None) -> (n, outputs)` of a finished run (loads its model)."""
    cls = method_class(task.model)
    return cls.load_predictor(run_dir) if task.head is None else cls.load_predictor(run_dir, head=task.head)


def predict_texts(predict, task: RunTask, texts: list[str], pairs: list[str] | None = None,
                  chunk: int = CHUNK) -> np.ndarray:
    """(n, outputs) float32 predictions of raw `texts` (and `pairs`): normalised as the run's, `chunk` at a time.

    A progress bar (texts/s) shows when there is more than one chunk.
    """
    parts = []
    with tqdm(total=len(texts), unit="text", disable=len(texts) <= chunk) as bar:
        for start in range(0, len(texts), chunk):
            end = start + chunk
            second = None if pairs is None else task.normalised(pairs[start:end])
            parts.append(np.asarray(predict(task.normalised(texts[start:end]), second), dtype=np.float32))
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def read_inputs(path: Path, text_column: str | None = None, pair_column: str | None = None,
                id_column: str | None = None) -> tuple[list[str], list[str], list[str] | None]:
    """(ids, texts, second texts or None) of a text file (one text a line) or, given `text_column`,
    of a CSV/TSV table's columns. Ids are the 1-based input rows, or the table's `id_column`."""
    path = Path(path)
    if text_column is None:
        if pair_column or id_column:
            raise MinionError("--pair-column and --id-column name columns of a table: give its --text-column too")
        if path.suffix.lower() in (".csv", ".tsv"):
            raise MinionError(f"{path}: a table; name the column of its texts with --text-column")
        texts = read_lines(path)
        return [str(i) for i in range(1, len(texts) + 1)], texts, None
    values = read_columns(path, list(dict.fromkeys(c for c in (text_column, pair_column, id_column) if c)))
    texts = values[text_column]
    ids = values[id_column] if id_column else [str(i) for i in range(1, len(texts) + 1)]
    return ids, texts, values[pair_column] if pair_column else None


def write_csv(out: Path, ids: list[str], outputs: np.ndarray, task: RunTask) -> None:
    """The predictions CSV (see the module docstring), written to a temporary name then renamed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    outputs = np.asarray(outputs, dtype=np.float32)  # str() of a float32 is its shortest exact form
    if task.labels is None:
        rows = [[i, str(o[0])] for i, o in zip(ids, outputs)]
    else:
        rows = [[i, task.labels[int(o.argmax())], *map(str, o)] for i, o in zip(ids, outputs)]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([task.columns(), *rows])
    write_text(out, text.getvalue())


def predict_file(run_dir: Path, path: Path, out: Path, text_column: str | None = None,
                 pair_column: str | None = None, id_column: str | None = None, head: str | None = None) -> dict:
    """Predict every text of `path` with a finished run and write the CSV `out`.

    Returns `{"rows", "load_s", "predict_s"}`.
    """
    task = run_task(run_dir, head)
    if task.pair and pair_column is None:
        raise MinionError(f"{run_dir}: trained on sentence pairs ({task.name}); give a table's first and "
                          "second texts with --text-column and --pair-column")
    if not task.pair and pair_column is not None:
        raise MinionError(f"{run_dir}: trained on single texts ({task.name}); drop --pair-column")
    ids, texts, pairs = read_inputs(path, text_column, pair_column, id_column)
    start = time.perf_counter()
    predict = load_predictor(run_dir, task)
    loaded = time.perf_counter()
    outputs = predict_texts(predict, task, texts, pairs)
    write_csv(out, ids, outputs, task)
    return {"rows": len(ids), "load_s": loaded - start, "predict_s": time.perf_counter() - loaded}
