"""The data of one run's `--task`: train / val / test `Split`s and the task's spec.

- `tweets` (default): the prepared tweet splits (dedupe, hashtags, 80/10/10; see `tweet_data`).
- GLUE tasks and `imdb`: train is capped at `--max-examples` (a seeded subset), then cut into
  train and val by `--train-fraction` (Pittsburgh: 0.9; UCSD: 0.9 or 0.3); the GLUE dev set
  (IMDb: its test set) is the test set, capped at `--max-test-examples`. MNLI has two test
  sets, `test_matched` and `test_mismatched`. Data come from `--data` (a GLUE-layout folder or
  the IMDb CSV folder), else from `../shared/data/{glue,imdb}`, else from tfds without download.

Example:
    >>> data = load_run_data(RunConfig(task="rte", max_examples=1000))
    >>> data.spec.is_pair, len(data.splits["train"]), data.test_names
    (True, 900, ('test',))
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minion_tf.data.glue import Split, TaskSpec, get_task, split_train_val
from minion_tf.runs.defaults import shared_data_root

TWEETS = TaskSpec("tweets", "tweets", ("text",), "label", ("0", "1"), ("accuracy",), "accuracy", "", ("text",))


def task_spec(name: str) -> TaskSpec:
    """The spec of `--task` (tweets, a GLUE task or imdb), or one clear error."""
    return TWEETS if name == "tweets" else get_task(name)


@dataclass
class RunData:
    """A run's splits: "train", "val" and one or more test sets (names starting with "test")."""

    spec: TaskSpec
    splits: dict[str, Split]
    source: str

    @property
    def test_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.splits if name.startswith("test"))


def _subset(split: Split, cap: int | None, seed: int) -> Split:
    if cap is None or cap >= len(split):
        return split
    return split.take(np.sort(np.random.default_rng(seed).permutation(len(split))[:cap]))


def load_run_data(config) -> RunData:
    """The splits `config` trains, validates and tests on (tweets are prepared first if needed)."""
    spec = task_spec(config.task)
    if spec is TWEETS:
        from minion_tf.runs.tweet_data import prepared_dir, read_splits

        prepared = prepared_dir(config)
        splits = {name: Split(list(texts), np.asarray(labels), None, f"{prepared}/{name}.tsv")
                  for name, (texts, labels) in read_splits(prepared).items()}
        return RunData(spec, splits, str(prepared))
    from minion_tf.data.glue import load_task

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
