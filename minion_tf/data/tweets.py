"""Readers for labelled tweets: the competition layout, labelled CSV/TSV tables, prepared splits
and the competition's `test_data.txt`; and for unlabelled texts: a table's columns, or one text a line.

Every reader decodes strictly as UTF-8 and raises `MinionError("file:line: what")` for an empty
file, bytes that are not UTF-8, an empty text, a missing column or a label outside the allowed
set. Labels follow one convention: negative 0, positive 1. Texts come back as a list of str,
labels and ids as int64 arrays.
"""
import csv
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError

COMPETITION_FILES = {False: ("train_neg.txt", "train_pos.txt"), True: ("train_neg_full.txt", "train_pos_full.txt")}
DEFAULT_LABEL_MAP = {"0": 0, "1": 1}


def read_text(path: Path) -> str:
    """The whole file as str; errors name the file and the line of an empty file or a bad byte.

    A UTF-8 byte order mark is dropped.

    Example:
        >>> read_text(Path("../shared/data/cil_test/test_data.txt"))[:9]
        '1,sea doo'
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MinionError(f"{path}: no such file") from None
    except OSError as e:
        raise MinionError(f"{path}: cannot read: {e.strerror}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise MinionError(f"{path}:1: empty file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise MinionError(f"{path}:{line}: byte 0x{data[e.start]:02x} is not UTF-8") from None


def _lines(path: Path) -> list[str]:
    """Lines split on "\\n" only (tweets may hold other Unicode line separators); "\\r" dropped."""
    lines = read_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_lines(path: Path) -> list[str]:
    """The texts of a plain text file, one a line (split on "\\n" only); an empty one is refused.

    Example:
        >>> read_lines(Path("new_tweets.txt"))[0]
        'loving the new lab <url>'
    """
    path = Path(path)
    return [_check_text(text, path, line) for line, text in enumerate(_lines(path), 1)]


def _check_text(text: str, path: Path, line: int) -> str:
    if not text.strip():
        raise MinionError(f"{path}:{line}: empty text")
    return text


def read_competition_dir(directory: Path, full: bool = False) -> tuple[list[str], np.ndarray]:
    """Tweets of `train_neg.txt` (label 0) and `train_pos.txt` (label 1), one tweet a line.

    `full=True` reads `train_neg_full.txt` and `train_pos_full.txt` instead.

    Example:
        >>> texts, labels = read_competition_dir(Path("../shared/data/tweets/sentiment140"))
        >>> len(texts), int(labels.sum())
        (90000, 45000)
    """
    directory = Path(directory)
    names = COMPETITION_FILES[full]
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise MinionError(
            f"{directory}: missing {', '.join(missing)}; expected the competition layout "
            f"({' and '.join(names)}, one tweet a line); labelled tweets in that layout are in "
            "../shared/data/tweets/sentiment140"
        )
    texts, labels = [], []
    for label, name in enumerate(names):
        path = directory / name
        lines = _lines(path)
        texts += [_check_text(text, path, i) for i, text in enumerate(lines, 1)]
        labels += [label] * len(lines)
    return texts, np.asarray(labels, dtype=np.int64)


def read_labelled_table(
    path: Path, text_col: str = "text", label_col: str = "label", label_map: Mapping[str, int] | None = None
) -> tuple[list[str], np.ndarray]:
    """Texts and labels of a CSV or TSV table with a header row.

    `.tsv` is tab-separated; `.csv` and `.txt` are too when the header has tabs and no comma
    (minBERT's "CSV" files), else comma-separated. CSV fields follow the usual quoting; TSV
    fields are unquoted (GLUE's convention), so quotes in a TSV are kept as text. `label_map`
    maps label strings (stripped) to ints; the default accepts "0" and "1". For -1/1 labels
    pass `{"-1": 0, "1": 1}`.

    Example:
        >>> texts, labels = read_labelled_table(Path("tweets.csv"), label_map={"-1": 0, "1": 1})
    """
    path = Path(path)
    label_map = DEFAULT_LABEL_MAP if label_map is None else label_map
    allowed = ", ".join(repr(key) for key in label_map)
    texts, labels = [], []
    for line, (text, label) in _table_rows(path, (text_col, label_col)):
        label = label.strip()
        if label not in label_map:
            raise MinionError(f"{path}:{line}: label {label!r} is not one of {allowed}")
        texts.append(_check_text(text, path, line))
        labels.append(label_map[label])
    return texts, np.asarray(labels, dtype=np.int64)


def read_columns(path: Path, columns) -> dict[str, list[str]]:
    """The values of `columns` in a CSV or TSV table with a header row, read as `read_labelled_table`
    reads tables; an empty value is refused with its file and line.

    Example:
        >>> read_columns(Path("../shared/data/glue/RTE/dev.tsv"), ["sentence1", "sentence2"])["sentence2"][0]
        'Christopher Reeve had an accident.'
    """
    path = Path(path)
    values = {column: [] for column in columns}
    for line, row in _table_rows(path, columns):
        for column, value in zip(columns, row):
            if not value.strip():
                raise MinionError(f"{path}:{line}: empty text in column {column!r}")
            values[column].append(value)
    return values


def _table_rows(path: Path, columns):
    """(line, [value of each column]) of every row of a table (delimiters as in `read_labelled_table`).

    Refuses a missing column (naming those found), an empty line, a row of the wrong width and a
    table without rows.
    """
    text = read_text(path)
    suffix, header_line = path.suffix.lower(), text.split("\n", 1)[0]
    if suffix == ".tsv" or (suffix in (".csv", ".txt") and "\t" in header_line and "," not in header_line):
        delimiter = "\t"
    elif suffix in (".csv", ".txt"):
        delimiter = ","
    else:
        raise MinionError(f"{path}: unknown table type {suffix!r}; expected .csv, .tsv or .txt")
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    rows = 0
    try:
        header = next(reader)
        found = ", ".join(repr(name) for name in header)
        for column in columns:
            if column not in header:
                raise MinionError(f"{path}:1: no column {column!r}; found columns {found}")
        index = [header.index(column) for column in columns]
        for row in reader:
            line = reader.line_num
            if row == []:
                raise MinionError(f"{path}:{line}: empty line")
            if len(row) != len(header):
                raise MinionError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
            rows += 1
            yield line, [row[i] for i in index]
    except csv.Error as e:
        raise MinionError(f"{path}:{reader.line_num}: {e}") from None
    if not rows:
        raise MinionError(f"{path}:2: no rows after the header")


def read_test_data(path: Path) -> tuple[np.ndarray, list[str]]:
    """Ids and raw tweets of the competition's `test_data.txt` (`id,tweet` lines, no header).

    Only the first comma separates: tweets may contain commas. Ids must be unique integers.

    Example:
        >>> ids, texts = read_test_data(Path("../shared/data/cil_test/test_data.txt"))
        >>> int(ids[0]), texts[2]
        (3, 'i cant stay away from bug thats my baby')
    """
    path = Path(path)
    ids, texts, seen = [], [], {}
    for line, row in enumerate(_lines(path), 1):
        head, comma, tweet = row.partition(",")
        if not comma:
            raise MinionError(f"{path}:{line}: expected 'id,tweet', found no comma")
        try:
            id_ = int(head)
        except ValueError:
            raise MinionError(f"{path}:{line}: id {head!r} is not an integer") from None
        if id_ in seen:
            raise MinionError(f"{path}:{line}: id {id_} already on line {seen[id_]}")
        seen[id_] = line
        ids.append(id_)
        texts.append(_check_text(tweet, path, line))
    return np.asarray(ids, dtype=np.int64), texts


def read_split(path: Path) -> tuple[list[str], np.ndarray]:
    """Texts and labels of a prepared split (`text\\tlabel` header, unquoted, one row a line).

    pandas reads the same file with `sep="\\t", quoting=csv.QUOTE_NONE, keep_default_na=False`.

    Example:
        >>> texts, labels = read_split(Path("data/prepared/train.tsv"))
    """
    path = Path(path)
    lines = _lines(path)
    if lines[0] != "text\tlabel":
        raise MinionError(f"{path}:1: header is {lines[0]!r}, expected 'text\\tlabel'")
    texts, labels = [], []
    for line, row in enumerate(lines[1:], 2):
        fields = row.split("\t")
        if len(fields) != 2:
            raise MinionError(f"{path}:{line}: {len(fields)} tab-separated fields, expected 2 (text, label)")
        try:
            labels.append(int(fields[1]))
        except ValueError:
            raise MinionError(f"{path}:{line}: label {fields[1]!r} is not an integer") from None
        texts.append(_check_text(fields[0], path, line))
    return texts, np.asarray(labels, dtype=np.int64)
