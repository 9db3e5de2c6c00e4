"""Kaggle-style submissions for the CIL tweet competition: written from a saved run, then validated.

The file is `Id,Prediction` followed by exactly 10,000 rows, ids 1..10000 in order,
predictions -1 (negative) or 1 (positive). Test tweets get the same normalisation as the
run's training tweets (the flags in its prepared data's `stats.json`: hashtags split,
@users and URLs anonymised).

Example:
    >>> write_submission(Path("runs/tweets/minion-h64-..."), Path("../shared/data/cil_test/test_data.txt"),
    ...                  Path("submission.csv"))
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError

HEADER = "Id,Prediction"
NUM_ROWS = 10_000


def validate_submission(path: Path) -> None:
    """Refuse, in one line naming the file and line, anything but the competition's format."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise MinionError(f"{path}: unreadable submission ({err})") from None
    if not lines or lines[0] != HEADER:
        raise MinionError(f"{path}:1: header must be {HEADER!r}, found {lines[0] if lines else ''!r}")
    if len(lines) - 1 != NUM_ROWS:
        raise MinionError(f"{path}: {len(lines) - 1} rows, expected {NUM_ROWS}")
    for number, line in enumerate(lines[1:], 1):
        id_, comma, prediction = line.partition(",")
        if not comma or id_ != str(number):
            raise MinionError(f"{path}:{number + 1}: expected id {number} in order, found {line!r}")
        if prediction not in ("-1", "1"):
            raise MinionError(f"{path}:{number + 1}: prediction must be -1 or 1, found {prediction!r}")


def write_predictions(ids, positive, out: Path) -> None:
    """Write `Id,Prediction` rows atomically, then validate the file (a bad one is removed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    rows = [HEADER, *(f"{int(i)},{1 if p else -1}" for i, p in zip(ids, positive))]
    tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
    try:
        validate_submission(tmp)
    except MinionError as err:
        tmp.unlink()
        raise MinionError(str(err).replace(str(tmp), str(out))) from None
    tmp.replace(out)


def normalizer_of(run_dir: Path):
    """texts -> texts normalised as the run's training data (flags from its prepared `stats.json`)."""
    from minion_tf.data.text import normalize_tweet

    record = read_record(run_dir)
    stats_path = Path(record["prepared"]) / "stats.json"
    if not stats_path.is_file():
        raise MinionError(f"{run_dir}: its prepared data {record['prepared']} is gone (no stats.json); "
                          "rerun the preparation to know how to normalise test tweets")
    flags = json.loads(stats_path.read_text())["config"]
    return lambda texts: [normalize_tweet(t, split_hashtags=flags["split_hashtags"], anonymise=flags["anonymise"])
                          for t in texts]


def read_record(run_dir: Path) -> dict:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise MinionError(f"{run_dir}: no run.json (not a finished run)")
    return json.loads(path.read_text())


def write_submission(run_dir: Path, test_data: Path, out: Path) -> dict:
    """Predict `test_data` with a finished run's saved model and write a validated submission."""
    from minion_tf.data.tweets import read_test_data
    from minion_tf.runs.registry import get_method

    test_data = Path(test_data)
    if not test_data.is_file():
        raise MinionError(f"{test_data}: no test_data.txt there; the competition's file is in "
                          "../shared/data/cil_test/test_data.txt (pass it with --test-data)")
    ids, texts = read_test_data(test_data)
    normalise = normalizer_of(run_dir)
    predict = get_method(read_record(run_dir)["config"]["model"]).load_predictor(run_dir)
    probs = np.asarray(predict(normalise(texts)))
    positive = probs.argmax(1) == 1
    write_predictions(ids, positive, out)
    return {"rows": len(ids), "positive_share": float(positive.mean())}
