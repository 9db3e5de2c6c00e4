"""Kaggle-style submissions for the CIL tweet competition: written from a saved run, then validated.

The file is `Id,Prediction` followed by exactly 10,000 rows, ids 1..10000 in order,
predictions -1 (negative) or 1 (positive). `test_data.txt` is checked (10,000 lines, ids
1..10000) before any model loads; its tweets are then predicted through `minion_tf.runs.predict`,
with the same normalisation as the run's training tweets (hashtags split, @users and URLs
anonymised, as the run recorded).

Example:
    >>> write_submission(Path("runs/tweets/minion-64-lr0.0003-s0-..."), Path("../shared/data/cil_test/test_data.txt"),
    ...                  Path("submission.csv"))
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from minion_tf.data.tweets import read_test_data
from minion_tf.errors import MinionError
from minion_tf.io import temporary_path
from minion_tf.runs import predict

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
    rows = [HEADER, *(f"{int(i)},{1 if p else -1}" for i, p in zip(ids, positive))]
    with temporary_path(out) as tmp:
        tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
        try:
            validate_submission(tmp)
        except MinionError as err:
            raise MinionError(str(err).replace(str(tmp), str(out))) from None


def read_test_tweets(path: Path) -> tuple[np.ndarray, list[str]]:
    """Ids and raw tweets of the competition's `test_data.txt`: exactly 10,000 `id,tweet` lines,
    ids 1..10000 in order, or one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MinionError(f"{path}: no test_data.txt there; the competition's file is in "
                          "../shared/data/cil_test/test_data.txt (pass it with --test-data)")
    ids, texts = read_test_data(path)
    if len(ids) != NUM_ROWS:
        raise MinionError(f"{path}: {len(ids)} lines, expected {NUM_ROWS} (id,tweet with ids 1..{NUM_ROWS})")
    wrong = np.flatnonzero(ids != np.arange(1, NUM_ROWS + 1))
    if wrong.size:
        raise MinionError(f"{path}:{wrong[0] + 1}: id {ids[wrong[0]]}, expected {wrong[0] + 1} (ids 1..{NUM_ROWS} "
                          "in order)")
    return ids, texts


def write_submission(run_dir: Path, test_data: Path, out: Path) -> dict:
    """Predict `test_data` with a finished run's saved model and write a validated submission.

    `test_data` and the run are checked before the model loads.
    """
    ids, texts = read_test_tweets(test_data)
    task = predict.run_task(run_dir)
    if task.pair or task.labels != ("negative", "positive"):
        raise MinionError(f"{run_dir}: a {task.name} run with labels {task.labels}; a submission needs a classifier "
                          "of single texts with the labels negative and positive")
    probs = predict.predict_texts(predict.load_predictor(run_dir, task), task, texts)
    positive = probs.argmax(1) == 1
    write_predictions(ids, positive, out)
    return {"rows": len(ids), "positive_share": float(positive.mean())}
