"""The data of one run's `--task`: train / val / test `Split`s and the task's spec.

- `tweets` (default): the prepared tweet splits (dedupe, hashtags, 80/10/10; see `tweet_data`).
- `text`: your own labelled data, any number of classes or a score (see `data.user_text`).
- GLUE tasks and `imdb`: train is capped at `--max-examples` (a seeded subset), then cut into
  train and val by `--train-fraction` (Pittsburgh: 0.9; UCSD: 0.9 or 0.3); the GLUE dev set
  (IMDb: its test set) is the test set, capped at `--max-test-examples`. MNLI has two test
  sets, `test_matched` and `test_mismatched`. Data come from `--data` (a GLUE-layout folder or
  the IMDb CSV folder), else from `../shared/data/{glue,imdb}`, else from tfds without download.
- `minbert` (`--model multitask`): the CS224N minBERT folder (`--data`, else `../shared/data/minbert`);
  its three tasks need the encoder's tokenizer, so the method reads them itself (`--max-examples`
  caps each task's training set) and the splits here are empty.

Example:
    >>> data = load_run_data(RunConfig(task="rte", max_examples=1000))
    >>> data.spec.is_pair, len(data.splits["train"]), data.test_names
    (True, 900, ('test',))
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minion_tf.data.glue import TASKS, Split, TaskSpec, get_task, load_task, split_train_val
from minion_tf.data.user_text import TextSource, load_text_task
from minion_tf.errors import MinionError
from minion_tf.runs.defaults import shared_data_root
from minion_tf.runs.tweet_data import prepared_dir, read_splits

TWEETS = TaskSpec("tweets", "tweets", ("text",), "label", ("negative", "positive"), ("accuracy",), "accuracy", "",
                  ("text",))
# Multi-task minBERT: SST, paraphrase and STS at once, scored by (SST acc + para acc + (r + 1) / 2) / 3.
MINBERT = TaskSpec("minbert", "minbert", ("sentence",), "label", None,
                   ("score", "sst_accuracy", "para_accuracy", "sts_pearson"), "score", "", ("sentence",),
                   score_range=(0.0, 1.0))
TASK_NAMES = ("tweets", "text", *TASKS, "minbert")


def task_spec(name: str) -> TaskSpec:
    """The spec of `--task` (tweets, a GLUE task or imdb; `text` has its classes from its data:
    see `spec_of`), or one clear error listing every task."""
    if name == "tweets":
        return TWEETS
    if name == "minbert":
        return MINBERT
    if name == "text":
        raise MinionError("--task text takes its classes from its data: its spec comes from spec_of(config)")
    try:
        return get_task(name)
    except MinionError:
        raise MinionError(f"unknown task {name!r}: known tasks are {', '.join(TASK_NAMES)}") from None


def spec_of(config) -> TaskSpec:
    """The spec of a run's task; for `text`, read from its data (the classes it holds)."""
    return load_run_data(config).spec if config.task == "text" else task_spec(config.task)


def text_source(config) -> TextSource:
    """Where `--task text` reads its data, and how it prepares it."""
    if config.data is None:
        raise MinionError("--task text needs --data: a CSV/TSV file with a header, or a folder of train/val/test "
                          "files (e.g. ../shared/data/tweets/tweeteval_sentiment)")
    return TextSource(config.data, config.text_column, config.label_column, config.pair_column, config.regression,
                      not config.no_dedupe, config.split_hashtags, config.anonymise)


def normalisation(config, data) -> dict | None:
    """How new texts must be normalised to look like this run's training texts (None: as they are)."""
    if config.task == "text":
        return text_source(config).normalise
    return tweet_normalisation(data.source) if config.task == "tweets" else None


def tweet_normalisation(prepared) -> dict:
    """The normalisation flags of a prepared tweet folder (its `stats.json`), or one line if it is gone."""
    stats = Path(prepared) / "stats.json"
    if not stats.is_file():
        raise MinionError(f"{prepared}: no stats.json (the prepared tweets are gone); rerun the preparation to "
                          "know how to normalise new tweets")
    flags = json.loads(stats.read_text())["config"]
    return {k: flags[k] for k in ("split_hashtags", "anonymise")}


@dataclass
class RunData:
    """A run's splits: "train", "val" and one or more test sets (names starting with "test")."""

    spec: TaskSpec
    splits: dict[str, Split]
    source: str
    removed: dict | None = None  # --task text: rows dropped by dedupe

    @property
    def test_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.splits if name.startswith("test"))


def _subset(split: Split, cap: int | None, seed: int) -> Split:
    if cap is None or cap >= len(split):
        return split
    return split.take(np.sort(np.random.default_rng(seed).permutation(len(split))[:cap]))


def load_run_data(config) -> RunData:
    """The splits `config` trains, validates and tests on (tweets are prepared first if needed)."""
    if config.task == "text":
        source = text_source(config)
        text = load_text_task(source, config.seed, config.max_examples, config.max_test_examples,
                              config.train_fraction)
        return RunData(text.spec, text.splits, str(Path(source.path).expanduser()), text.removed)
    spec = task_spec(config.task)
    if spec is MINBERT:
        directory = Path(config.data) if config.data else shared_data_root() / "minbert"
        if not directory.is_dir():
            raise MinionError(f"{directory}: no minBERT data folder (expected ids-sst-train.csv, quora-dev.csv, "
                              "sts-train.csv, ...); point --data at it")
        return RunData(spec, {}, str(directory))
    if spec is TWEETS:
        prepared = prepared_dir(config)
        splits = {name: Split(list(texts), np.asarray(labels), None, f"{prepared}/{name}.tsv")
                  for name, (texts, labels) in read_splits(prepared).items()}
        return RunData(spec, splits, str(prepared))
    data_dir = config.data
    if data_dir is None:
        local = shared_data_root() / ("imdb" if spec.name == "imdb" else "glue")
        data_dir = local if local.is_dir() else None
    raw = load_task(spec.name, data_dir)
    train, val = split_train_val(_subset(raw.pop("train"), config.max_examples, config.seed),
                                 config.train_fraction, config.seed)
    splits = {"train": train, "val": val,
              **{name: _subset(split, config.max_test_examples, config.seed) for name, split in raw.items()}}
    return RunData(spec, splits, str(Path(data_dir)) if data_dir else f"tfds {spec.tfds_name}")
