"""Your own labelled texts (`--task text`): any number of classes, or a numeric score.

Where the data come from (`TextSource.path`):
- one CSV/TSV file with a header: the text column, the label column (and a pair column);
  after normalising and dedupe it is split 80/10/10, stratified by class, with the seed;
- a folder with `train`, `val` and `test` files (`.csv`, `.tsv`, or TweetEval's
  `<split>_text.txt` + `<split>_labels.txt`, with label names in `mapping.txt`). Missing `val`
  is cut from train (`train_fraction` trains); missing `test` means the given `val` is the test
  set and val is cut from train (GLUE's dev-as-test protocol). `max_examples` caps train.
Texts pass through `normalize_tweet` (HTML entities, whitespace; hashtags split and users/URLs
anonymised only when asked). Dedupe (on the normalised text and pair) drops repeats, texts
seen with two labels, and train/val texts that also occur in a later split; a given test file
keeps every row (it stays the benchmark it is).
Classes are the label strings, numbers in numeric order, else sorted; data with one class,
a class too small for the split, or a test class unseen in train stop with one line.

Example:
    >>> data = load_text_task(TextSource("../shared/data/tweets/tweeteval_sentiment"), seed=0)
    >>> data.labels, len(data.splits["test"])
    (('negative', 'neutral', 'positive'), 2000)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minion_tf.data.glue import Split, TaskSpec
from minion_tf.data.text import normalize_tweet
from minion_tf.data.tweets import read_columns, read_lines
from minion_tf.errors import MinionError

SPLITS = ("train", "val", "test")
CLASSIFIER_METRICS = ("accuracy", "macro_recall", "macro_f1")
REGRESSION_METRICS = ("pearson", "spearman")


@dataclass(frozen=True)
class TextSource:
    """Where a user's texts are and how to read and prepare them."""

    path: str
    text_column: str = "text"
    label_column: str = "label"
    pair_column: str | None = None
    regression: bool = False
    dedupe: bool = True
    split_hashtags: bool = False
    anonymise: bool = False

    @property
    def normalise(self) -> dict:
        return {"split_hashtags": self.split_hashtags, "anonymise": self.anonymise}


@dataclass
class TextData:
    """The splits, the task's spec (labels in class-id order) and what preparation removed."""

    spec: TaskSpec
    splits: dict[str, Split]
    removed: dict


@dataclass
class _Raw:
    """One file's rows: texts, second texts, raw label strings; row i is on line `first_line + i`."""

    texts: list
    pairs: list | None
    labels: list
    path: str
    first_line: int

    def where(self, i: int) -> str:
        return f"{self.path}:{self.first_line + i}"


def _table(path: Path, source: TextSource) -> _Raw:
    columns = [source.text_column, source.label_column] + ([source.pair_column] if source.pair_column else [])
    values = read_columns(path, columns)
    return _Raw(values[source.text_column], values.get(source.pair_column),
                [v.strip() for v in values[source.label_column]], str(path), 2)


def _tweeteval(folder: Path, split: str, names: dict) -> _Raw:
    text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    texts, labels = read_lines(text_path), [v.strip() for v in read_lines(label_path)]
    if len(texts) != len(labels):
        raise MinionError(f"{label_path}: {len(labels)} labels for the {len(texts)} texts of {text_path}")
    return _Raw(texts, None, [names.get(v, v) for v in labels], str(text_path), 1)


def _mapping(folder: Path) -> dict:
    """TweetEval's `mapping.txt` (`0<TAB>negative` lines): raw label -> name; {} without one."""
    path = folder / "mapping.txt"
    if not path.is_file():
        return {}
    pairs = [line.split("\t") for line in read_lines(path)]
    if any(len(p) != 2 for p in pairs):
        raise MinionError(f"{path}: expected 'label<TAB>name' lines")
    return {raw.strip(): name.strip() for raw, name in pairs}


def read_sources(source: TextSource) -> tuple[dict[str, _Raw], dict]:
    """({split: rows} of the files found, {raw label: name}); one file gives {"all": rows}."""
    path = Path(source.path).expanduser()
    if path.is_file():
        return {"all": _table(path, source)}, {}
    if not path.is_dir():
        raise MinionError(f"{path}: no such file or directory (--data: a CSV/TSV file, or a folder of "
                          "train/val/test files)")
    names, found = _mapping(path), {}
    for split in SPLITS:
        tables = [p for p in (path / f"{split}.csv", path / f"{split}.tsv") if p.is_file()]
        if tables:
            found[split] = _table(tables[0], source)
        elif (path / f"{split}_text.txt").is_file():
            if source.pair_column:
                raise MinionError(f"{path}: {split}_text.txt holds single texts; --pair-column needs CSV/TSV files")
            found[split] = _tweeteval(path, split, names)
    if "train" not in found:
        raise MinionError(f"{path}: no train.csv, train.tsv or train_text.txt + train_labels.txt")
    return found, names


def class_names(labels, names: dict) -> tuple[str, ...]:
    """The label strings in class-id order: TweetEval's mapping order, numbers numerically, else sorted."""
    present = set(labels)
    if names:
        return tuple(n for n in names.values() if n in present) + tuple(sorted(present - set(names.values())))
    try:
        return tuple(sorted(present, key=float))
    except ValueError:
        return tuple(sorted(present))


def _scores(raw: _Raw) -> np.ndarray:
    out = []
    for i, value in enumerate(raw.labels):
        try:
            out.append(float(value))
        except ValueError:
            raise MinionError(f"{raw.where(i)}: label {value!r} is not a number (--regression)") from None
    return np.asarray(out, dtype=np.float32)


def _normalised(raw: _Raw, source: TextSource) -> _Raw:
    def norm(texts):
        out = [normalize_tweet(t, **source.normalise) for t in texts]
        for i, text in enumerate(out):
            if not text:
                raise MinionError(f"{raw.where(i)}: empty text after normalising")
        return out

    return _Raw(norm(raw.texts), None if raw.pairs is None else norm(raw.pairs), raw.labels, raw.path,
                raw.first_line)


def _dedupe(parts: dict[str, _Raw], regression: bool, test: str | None) -> tuple[dict[str, np.ndarray], dict]:
    """Rows kept of each part: first copies, no text with two labels, none repeated in a later part.

    The rows of a given test file (`test`) are all kept, so it stays the benchmark it is.
    """
    keys = {n: list(zip(r.texts, r.pairs or [""] * len(r.texts))) for n, r in parts.items()}
    labels_of: dict = {}
    for name, raw in parts.items():
        if name != test:
            for key, label in zip(keys[name], raw.labels):
                labels_of.setdefault(key, set()).add(label)
    conflicting = set() if regression else {k for k, v in labels_of.items() if len(v) > 1}
    owner = {}
    for name in reversed(list(parts)):  # test, then val, then train claim a text first
        for key in keys[name]:
            owner.setdefault(key, name)
    kept, seen, removed = {}, set(), {"duplicates": 0, "conflicting_labels": 0, "in_a_later_split": 0}
    for name in parts:
        if name == test:
            kept[name] = np.arange(len(keys[name]))
            continue
        rows = []
        for i, key in enumerate(keys[name]):
            if key in conflicting:
                removed["conflicting_labels"] += 1
            elif owner[key] != name:
                removed["in_a_later_split"] += 1
            elif key in seen:
                removed["duplicates"] += 1
            else:
                seen.add(key)
                rows.append(i)
        kept[name] = np.asarray(rows, dtype=np.int64)
    return kept, removed


def _stratified(class_ids: np.ndarray, fractions: tuple, seed: int, where: str, names) -> list[np.ndarray]:
    """Row indices of each part, every class cut by `fractions` (each part gets at least one)."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for c in np.unique(class_ids):
        rows = rng.permutation(np.flatnonzero(class_ids == c))
        need = int(np.ceil(1 / min(fractions) - 1e-9))
        if len(rows) < need:
            raise MinionError(f"{where}: class {names[c]!r} has {len(rows)} example(s); a "
                              f"{'/'.join(f'{round(100 * f)}' for f in fractions)} split needs at least {need} of each")
        cuts = np.floor(np.cumsum(fractions)[:-1] * len(rows) + 1e-9).astype(int)
        for part, chunk in zip(parts, np.split(rows, cuts)):
            part.extend(chunk)
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def _cap(rows: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    if cap is None or cap >= len(rows):
        return rows
    return np.sort(np.random.default_rng(seed).permutation(rows)[:cap])


def _regression_split(n: int, fractions: tuple, seed: int, where: str) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.floor(np.cumsum(fractions)[:-1] * n + 1e-9).astype(int)
    parts = [np.sort(p) for p in np.split(order, cuts)]
    if any(len(p) == 0 for p in parts):
        raise MinionError(f"{where}: {n} examples are too few for a {'/'.join(str(f) for f in fractions)} split")
    return parts


def load_text_task(source: TextSource, seed: int = 0, max_examples: int | None = None,
                   max_test_examples: int | None = None, train_fraction: float = 0.9) -> TextData:
    """Read, normalise, dedupe and split a user's data (see the module docstring)."""
    found, names = read_sources(source)
    parts = {n: _normalised(r, source) for n, r in found.items()}
    test = None if "all" in parts else "test" if "test" in parts else "val"
    if source.dedupe:
        kept, removed = _dedupe(parts, source.regression, test)
    else:
        kept, removed = {n: np.arange(len(r.texts)) for n, r in parts.items()}, {}
    all_labels = [r.labels[i] for n, r in parts.items() for i in kept[n]]
    labels = None if source.regression else class_names(all_labels, names)
    if labels is not None and len(labels) < 2:
        raise MinionError(f"{source.path}: every example has the label {labels[0]!r}; a classifier needs two "
                          "classes at least (or pass --regression for a numeric score)")

    def ids(raw: _Raw, rows) -> np.ndarray:
        if labels is None:
            return _scores(raw)[rows]
        return np.asarray([labels.index(raw.labels[i]) for i in rows], dtype=np.int64)

    def split_of(raw: _Raw, rows, where: str) -> Split:
        rows = np.asarray(rows, dtype=np.int64)
        return Split([raw.texts[i] for i in rows], ids(raw, rows),
                     None if raw.pairs is None else [raw.pairs[i] for i in rows], where)

    def cut(raw: _Raw, rows, fractions, where: str) -> list[np.ndarray]:
        y = ids(raw, rows)
        local = (_regression_split(len(rows), fractions, seed, where) if labels is None
                 else _stratified(y, fractions, seed, where, labels))
        return [rows[p] for p in local]

    if "all" in parts:
        raw, rows = parts["all"], _cap(kept["all"], max_examples, seed)
        train, val, test = cut(raw, rows, (0.8, 0.1, 0.1), source.path)
        splits = {n: split_of(raw, r, f"{source.path} ({n})") for n, r in zip(SPLITS, (train, val, test))}
    else:
        train_raw, train_rows = parts["train"], _cap(kept["train"], max_examples, seed)
        test_name = "test" if "test" in parts else "val"
        if test_name not in parts:
            raise MinionError(f"{source.path}: a folder needs a test (or val) file beside train")
        if "val" in parts and test_name == "test":
            splits = {"train": split_of(train_raw, train_rows, train_raw.path),
                      "val": split_of(parts["val"], kept["val"], parts["val"].path)}
        else:
            train, val = cut(train_raw, train_rows, (train_fraction, 1 - train_fraction), train_raw.path)
            splits = {"train": split_of(train_raw, train, train_raw.path),
                      "val": split_of(train_raw, val, f"{train_raw.path} (val)")}
        test_raw = parts[test_name]
        splits["test"] = split_of(test_raw, _cap(kept[test_name], max_test_examples, seed), test_raw.path)
        if labels is not None:
            seen = set(splits["train"].labels.tolist())
            for name in ("val", "test"):
                missing = sorted(set(splits[name].labels.tolist()) - seen)
                if missing:
                    raise MinionError(f"{splits[name].source}: class {labels[missing[0]]!r} never occurs in train")
    spec = text_spec(labels, source.pair_column is not None, splits["train"].labels if labels is None else None)
    return TextData(spec, splits, removed)


def text_spec(labels, pair: bool, scores=None) -> TaskSpec:
    """The `TaskSpec` of a user's task: its classes (or, for a score, the range of `scores` seen in train)."""
    text = ("text", "pair") if pair else ("text",)
    if labels is None:
        low, high = float(np.min(scores)), float(np.max(scores))
        return TaskSpec("text", "", text, "label", None, REGRESSION_METRICS, "pearson", "", text,
                        score_range=(low, high))
    return TaskSpec("text", "", text, "label", tuple(labels), CLASSIFIER_METRICS, "accuracy", "", text)
