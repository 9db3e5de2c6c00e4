"""Readers for the CS224N minBERT files (SST, CFIMDB, Quora, STS) and the seeded Quora split.

The files are tab-separated despite their `.csv` names, with CSV quoting ("" inside a
quoted field is one quote). The first column is an unnamed index, then `id`, the text
column(s) and the label. Rows whose label is empty are skipped and counted (two rows of
`quora-dev.csv`); any other bad row raises `MinionError("file:line: what")`.

`quora-train.csv` is not available, so the paraphrase task trains on a seeded 90/10 split
of `quora-dev.csv` (`split_fraction`): 90 % train, 10 % held out as its dev set.

Example:
    >>> quora = read_minbert(Path("../shared/data/minbert/quora-dev.csv"), "quora")
    >>> len(quora), quora.skipped
    (20212, 2)
    >>> train, dev = split_fraction(quora, 0.9, seed=0)
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minion_tf.data.tweets import read_text
from minion_tf.errors import MinionError

# kind -> (text columns, label column, parse(label) -> value or None when invalid)
KINDS = {
    "sst": (("sentence",), "sentiment", lambda s: _int_in(s, range(5))),
    "cfimdb": (("sentence",), "sentiment", lambda s: _int_in(s, range(2))),
    "quora": (("sentence1", "sentence2"), "is_duplicate", lambda s: _int_in(s, range(2))),
    "sts": (("sentence1", "sentence2"), "similarity", lambda s: _float_in(s, 0.0, 5.0)),
}
FILES = {"sst": ("ids-sst-train.csv", "ids-sst-dev.csv"), "cfimdb": ("ids-cfimdb-train.csv", "ids-cfimdb-dev.csv"),
         "sts": ("sts-train.csv", "sts-dev.csv"), "quora": ("quora-dev.csv",)}


def _int_in(text: str, allowed: range):
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and int(value) in allowed else None


def _float_in(text: str, low: float, high: float):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


@dataclass
class MinbertSplit:
    """Examples of one task: `texts_b` is None for single sentences; `skipped` counts empty labels."""

    kind: str
    ids: list
    texts_a: list
    texts_b: list | None
    labels: np.ndarray
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows) -> "MinbertSplit":
        """The examples at `rows` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        pick = lambda seq: [seq[i] for i in rows]  # noqa: E731
        return MinbertSplit(self.kind, pick(self.ids), pick(self.texts_a),
                            None if self.texts_b is None else pick(self.texts_b), self.labels[rows], self.skipped)


def read_minbert(path: Path, kind: str) -> MinbertSplit:
    """All labelled rows of one minBERT file; `kind` is one of sst, cfimdb, quora, sts."""
    if kind not in KINDS:
        raise MinionError(f"unknown minBERT task {kind!r}; expected one of {', '.join(KINDS)}")
    path = Path(path)
    text_cols, label_col, parse = KINDS[kind]
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t")
    ids, texts, labels, skipped = [], [[] for _ in text_cols], [], 0
    try:
        header = next(reader)
        missing = [c for c in ("id", *text_cols, label_col) if c not in header]
        if missing:
            raise MinionError(f"{path}:1: no column {missing[0]!r} for task {kind}; found columns "
                              f"{', '.join(repr(h) for h in header)}")
        cols = [header.index(c) for c in text_cols]
        id_col, y_col = header.index("id"), header.index(label_col)
        for row in reader:
            line = reader.line_num
            if len(row) != len(header):
                raise MinionError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
            raw = row[y_col].strip()
            if raw == "":
                skipped += 1
                continue
            label = parse(raw)
            if label is None:
                raise MinionError(f"{path}:{line}: bad {label_col} {raw!r} for task {kind}")
            for store, col in zip(texts, cols):
                value = row[col].strip()
                if not value:
                    raise MinionError(f"{path}:{line}: empty {header[col]}")
                store.append(value)
            ids.append(row[id_col])
            labels.append(label)
    except csv.Error as err:
        raise MinionError(f"{path}:{reader.line_num}: {err}") from None
    if not labels:
        raise MinionError(f"{path}:2: no labelled rows after the header")
    dtype = np.float32 if kind == "sts" else np.int64
    return MinbertSplit(kind, ids, texts[0], texts[1] if len(texts) > 1 else None,
                        np.asarray(labels, dtype=dtype), skipped)


def split_fraction(split: MinbertSplit, fraction: float, seed: int) -> tuple[MinbertSplit, MinbertSplit]:
    """A seeded shuffle cut into (first `fraction`, rest); the same seed gives the same split."""
    if not 0.0 < fraction < 1.0:
        raise MinionError(f"split fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(split))
    cut = int(round(fraction * len(split)))
    return split.take(order[:cut]), split.take(order[cut:])


def subsample(split: MinbertSplit, limit: int | None, seed: int) -> MinbertSplit:
    """At most `limit` examples, a seeded random subset (all of them when `limit` is None)."""
    if limit is None or limit >= len(split):
        return split
    return split.take(np.sort(np.random.default_rng(seed).permutation(len(split))[:limit]))


def load_minbert(directory: Path, tasks=("sst", "quora", "sts"), split_seed: int = 0) -> dict:
    """{task: (train, dev)} for `tasks`; Quora's pair is the 90/10 split of quora-dev.csv."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MinionError(f"{directory}: no minBERT data folder (expected ids-sst-train.csv, quora-dev.csv, ...)")
    out = {}
    for task in tasks:
        names = FILES[task]
        if task == "quora":
            out[task] = split_fraction(read_minbert(directory / names[0], task), 0.9, split_seed)
        else:
            out[task] = tuple(read_minbert(directory / name, task) for name in names)
    return out
