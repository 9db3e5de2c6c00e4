"""GLUE tasks and IMDb: what each task is (`TaskSpec`) and its train / test splits (`load_task`).

Data come from a local folder or from tensorflow-datasets:
- `data_dir` is a GLUE-layout folder (``../shared/data/glue`` holding ``CoLA/train.tsv``, ...)
  or one task's own folder; for IMDb, a folder with ``imdb_train.csv`` / ``imdb_test.csv``
  (``id,rating,label,text``; ``../shared/data/imdb``). GLUE TSVs are read unquoted, strictly
  as UTF-8, with a byte-order mark dropped (MRPC has one).
- without `data_dir`, tfds (``glue/<task>`` or ``imdb_reviews``) under `tfds_dir` (or tfds'
  default folder), never downloading: missing data is one clear error.

The Pittsburgh protocol: GLUE dev is the test set ("test"; MNLI has "test_matched" and
"test_mismatched"), and `split_train_val` holds out 10 % of train for validation.
Class ids follow tfds (RTE/QNLI: entailment 0, not_entailment 1; MNLI: entailment 0,
neutral 1, contradiction 2); STS-B labels are float32 scores in [0, 5].

Example:
    >>> splits = load_task("rte", data_dir="../shared/data/glue")
    >>> train, val = split_train_val(splits["train"], fraction=0.9, seed=0)
    >>> len(train), len(val), train.pairs is not None
    (2241, 249, True)
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minion_tf.data.tweets import read_text
from minion_tf.errors import MinionError


@dataclass(frozen=True)
class TaskSpec:
    """One task: where its text and labels are, which labels it allows, and how it is scored.

    `labels` are the raw label strings in class-id order; None marks a regression task whose
    float labels lie in `score_range`. `columns` names the columns of a headerless TSV (CoLA).
    `test_files` / `tfds_test_splits` map this package's test split names to a file / tfds split.
    """

    name: str
    folder: str
    text_columns: tuple[str, ...]
    label_column: str
    labels: tuple[str, ...] | None
    metrics: tuple[str, ...]
    primary: str
    tfds_name: str
    tfds_text_features: tuple[str, ...]
    score_range: tuple[float, float] | None = None
    columns: tuple[str, ...] | None = None
    train_file: str = "train.tsv"
    test_files: dict = field(default_factory=lambda: {"test": "dev.tsv"})
    tfds_test_splits: dict = field(default_factory=lambda: {"test": "validation"})

    def __post_init__(self):
        if len(self.text_columns) not in (1, 2) or len(self.tfds_text_features) != len(self.text_columns):
            raise MinionError(f"task {self.name}: one or two text columns, matching the tfds features")
        if (self.labels is None) == (self.score_range is None):
            raise MinionError(f"task {self.name}: give either a label set or a regression score range")
        if self.primary not in self.metrics:
            raise MinionError(f"task {self.name}: primary metric {self.primary!r} is not among {self.metrics}")
        if set(self.test_files) != set(self.tfds_test_splits):
            raise MinionError(f"task {self.name}: test files and tfds test splits must name the same splits")

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2

    @property
    def num_labels(self) -> int:
        """Number of classes (1 for regression: one output)."""
        return 1 if self.labels is None else len(self.labels)


_BINARY = ("0", "1")
_ENTAIL = ("entailment", "not_entailment")
TASKS: dict[str, TaskSpec] = {t.name: t for t in (
    TaskSpec("cola", "CoLA", ("sentence",), "label", _BINARY, ("matthews_corrcoef", "accuracy"), "matthews_corrcoef",
             "glue/cola", ("sentence",), columns=("source", "label", "star", "sentence")),
    TaskSpec("sst2", "SST-2", ("sentence",), "label", _BINARY, ("accuracy",), "accuracy", "glue/sst2", ("sentence",)),
    TaskSpec("mrpc", "MRPC", ("#1 String", "#2 String"), "Quality", _BINARY, ("f1", "accuracy"), "f1",
             "glue/mrpc", ("sentence1", "sentence2")),
    TaskSpec("stsb", "STS-B", ("sentence1", "sentence2"), "score", None, ("pearson", "spearman"), "spearman",
             "glue/stsb", ("sentence1", "sentence2"), score_range=(0.0, 5.0)),
    TaskSpec("qqp", "QQP", ("question1", "question2"), "is_duplicate", _BINARY, ("f1", "accuracy"), "f1",
             "glue/qqp", ("question1", "question2")),
    TaskSpec("mnli", "MNLI", ("sentence1", "sentence2"), "gold_label", ("entailment", "neutral", "contradiction"),
             ("accuracy",), "accuracy", "glue/mnli", ("premise", "hypothesis"),
             test_files={"test_matched": "dev_matched.tsv", "test_mismatched": "dev_mismatched.tsv"},
             tfds_test_splits={"test_matched": "validation_matched", "test_mismatched": "validation_mismatched"}),
    TaskSpec("qnli", "QNLI", ("question", "sentence"), "label", _ENTAIL, ("accuracy",), "accuracy",
             "glue/qnli", ("question", "sentence")),
    TaskSpec("rte", "RTE", ("sentence1", "sentence2"), "label", _ENTAIL, ("accuracy",), "accuracy",
             "glue/rte", ("sentence1", "sentence2")),
    TaskSpec("wnli", "WNLI", ("sentence1", "sentence2"), "label", _BINARY, ("accuracy",), "accuracy",
             "glue/wnli", ("sentence1", "sentence2")),
    TaskSpec("imdb", "imdb", ("text",), "label", _BINARY, ("accuracy",), "accuracy", "imdb_reviews", ("text",),
             train_file="imdb_train.csv", test_files={"test": "imdb_test.csv"}, tfds_test_splits={"test": "test"}),
)}


def get_task(name: str) -> TaskSpec:
    """The spec of a task by name (case-insensitive; "sst-2"/"sts-b" accepted), or one clear error."""
    key = name.lower().replace("-", "")
    if key not in TASKS:
        raise MinionError(f"unknown task {name!r}: known tasks are {', '.join(TASKS)}")
    return TASKS[key]


@dataclass
class Split:
    """Texts (and second texts of pairs) with their labels: int64 class ids or float32 scores."""

    texts: list
    labels: np.ndarray
    pairs: list | None = None
    source: str = ""

    def __post_init__(self):
        if len(self.texts) == 0:
            raise MinionError(f"{self.source or 'split'}: empty split (no examples)")
        if len(self.labels) != len(self.texts) or (self.pairs is not None and len(self.pairs) != len(self.texts)):
            raise MinionError(f"{self.source or 'split'}: texts, pairs and labels differ in length")

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, indices) -> Split:
        """The examples at `indices`, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        pairs = None if self.pairs is None else [self.pairs[i] for i in idx]
        return Split([self.texts[i] for i in idx], self.labels[idx], pairs, self.source)


def split_train_val(split: Split, fraction: float = 0.9, seed: int = 0) -> tuple[Split, Split]:
    """A seeded shuffle of `split` cut into train (`fraction`) and validation (the rest).

    Example:
        >>> train, val = split_train_val(splits["train"], 0.3, seed=1)   # the UCSD 30/70 split
    """
    if not 0 < fraction < 1:
        raise MinionError(f"train fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(split))
    cut = int(round(fraction * len(split)))
    if cut == 0 or cut == len(split):
        raise MinionError(f"{split.source}: {len(split)} examples are too few for a {fraction} train fraction")
    return split.take(order[:cut]), split.take(order[cut:])


def _label(spec: TaskSpec, raw, where: str):
    """Class id or float score of one raw label, or an error naming where it is and what is allowed."""
    if spec.labels is None:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        low, high = spec.score_range
        if not low <= value <= high:
            raise MinionError(f"{where}: label {raw!r} is not a score in [{low:g}, {high:g}]")
        return value
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    if text not in spec.labels:
        raise MinionError(f"{where}: label {text!r} is not one of {', '.join(spec.labels)}")
    return spec.labels.index(text)


def _finish(spec: TaskSpec, texts, pairs, labels, source: str) -> Split:
    dtype = np.float32 if spec.is_regression else np.int64
    return Split(texts, np.asarray(labels, dtype=dtype).reshape(-1), pairs if spec.is_pair else None, source)


def _rows(spec: TaskSpec, path: Path):
    """(line number, {column: value}) of each data row; checks the header and each row's width."""
    text = read_text(path)
    if path.suffix == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    if spec.columns is None:
        header = next(reader)
        needed = spec.text_columns + (spec.label_column,)
        missing = [c for c in needed if c not in header]
        if missing:
            raise MinionError(f"{path}:1: missing column(s) {', '.join(missing)}; found columns: {', '.join(header)}")
    else:
        header = list(spec.columns)
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise MinionError(f"{path}:{reader.line_num}: expected {len(header)} columns "
                              f"({', '.join(header)}), found {len(row)}")
        yield reader.line_num, dict(zip(header, row))


def _read_file(spec: TaskSpec, path: Path) -> Split:
    texts, pairs, labels = [], [], []
    for line, row in _rows(spec, path):
        texts.append(row[spec.text_columns[0]])
        pairs.append(row[spec.text_columns[-1]])
        labels.append(_label(spec, row[spec.label_column], f"{path}:{line}"))
    return _finish(spec, texts, pairs, labels, str(path))


def _read_tfds(spec: TaskSpec, split: str, tfds_dir) -> Split:
    import tensorflow_datasets as tfds

    source = f"tfds {spec.tfds_name} {split}"
    try:
        ds = tfds.load(spec.tfds_name, split=split, data_dir=tfds_dir, download=False)
    except AssertionError:
        raise MinionError(f"{source}: no prepared data under {tfds_dir or 'the tfds default folder'} (downloads are "
                          f"off); pass a local GLUE-layout folder such as ../shared/data/glue instead") from None
    first, last = spec.tfds_text_features[0], spec.tfds_text_features[-1]
    texts, pairs, labels = [], [], []
    for i, ex in enumerate(tfds.as_numpy(ds)):
        texts.append(ex[first].decode("utf-8"))
        pairs.append(ex[last].decode("utf-8"))
        raw = ex["label"]
        if spec.labels is not None:
            if not 0 <= int(raw) < spec.num_labels:
                raise MinionError(f"{source}: example {i}: label {int(raw)} is not a class id in 0..{spec.num_labels - 1}")
            raw = spec.labels[int(raw)]
        labels.append(_label(spec, raw, f"{source}: example {i}"))
    return _finish(spec, texts, pairs, labels, source)


def load_task(name: str, data_dir=None, tfds_dir=None) -> dict[str, Split]:
    """`{"train": Split, "test": Split}` of a task (MNLI: "test_matched" and "test_mismatched").

    Reads `data_dir` (a GLUE-layout root or the task's own folder) when given, else tfds data
    under `tfds_dir`, never downloading.
    """
    spec = get_task(name)
    names = {"train": (spec.train_file, "train"),
             **{k: (spec.test_files[k], spec.tfds_test_splits[k]) for k in spec.test_files}}
    if data_dir is None:
        return {k: _read_tfds(spec, tfds_split, tfds_dir) for k, (_, tfds_split) in names.items()}
    root = Path(data_dir)
    folder = root / spec.folder if (root / spec.folder).is_dir() else root
    if not (folder / spec.train_file).is_file():
        raise MinionError(f"{root}: no {spec.name} data: expected {root / spec.folder / spec.train_file} "
                          f"(a GLUE-layout folder such as ../shared/data/glue)")
    return {k: _read_file(spec, folder / filename) for k, (filename, _) in names.items()}
