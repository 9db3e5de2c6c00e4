"""Tweet preparation: normalise, dedupe, shuffle with a seed and split into train/val/test TSVs.

Choices (the paper removes duplicates, splits hashtags and shuffles 80/10/10):
- Duplicates are found on the NORMALISED text, so tweets that differ only in an @handle, a URL
  or an HTML entity count as one: no copy of a test tweet can sit in train.
- A text that occurs with more than one label is dropped entirely (every copy) and counted
  apart from the duplicates; so is a text that normalises to nothing (e.g. only "&nbsp;").
- Examples are sorted by text before the seeded shuffle, so input order never matters, and
  `max_examples` caps the shuffled examples, so the splits are 80/10/10 of the cap.
- Outputs are written to a temporary name, then renamed; `stats.json` is removed first and
  written last, so its presence marks a complete preparation. Bad input is found before
  anything is written, so it leaves an earlier preparation intact.
The same source, config and seed give byte-identical files, `stats.json` included.
"""
import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from minion_tf.data.text import normalize_tweet
from minion_tf.data.tweets import COMPETITION_FILES, DEFAULT_LABEL_MAP, read_competition_dir, read_labelled_table
from minion_tf.errors import MinionError
from minion_tf.io import temporary_path

SPLITS = ("train", "val", "test")
STATS = "stats.json"
PERCENTILES = (50, 90, 95, 99)


def _is_int(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclass
class PrepareConfig:
    """How to prepare tweets; `text_col`, `label_col` and `label_map` apply to a CSV/TSV source,
    `full` to a competition directory (read the `_full` files).

    Example:
        >>> PrepareConfig(seed=1, max_examples=1000).split
        (0.8, 0.1, 0.1)
    """

    seed: int = 0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    max_examples: int | None = None
    split_hashtags: bool = True
    anonymise: bool = True
    full: bool = False
    text_col: str = "text"
    label_col: str = "label"
    label_map: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LABEL_MAP))

    def __post_init__(self):
        def fail(name: str, value, what: str):
            raise MinionError(f"PrepareConfig.{name}: {value!r} {what}")

        if not _is_int(self.seed, 0):
            fail("seed", self.seed, "is not an integer >= 0")
        self.split = tuple(self.split)
        numbers = all(isinstance(f, (int, float)) and not isinstance(f, bool) and f >= 0 for f in self.split)
        if len(self.split) != 3 or not numbers:
            fail("split", self.split, "is not three fractions >= 0 (train, val, test)")
        if abs(sum(self.split) - 1) > 1e-6 or self.split[0] == 0:
            fail("split", self.split, "must sum to 1 with a non-empty train part")
        if self.max_examples is not None and not _is_int(self.max_examples, 1):
            fail("max_examples", self.max_examples, "is not None or an integer >= 1")
        for name in ("split_hashtags", "anonymise", "full"):
            if not isinstance(getattr(self, name), bool):
                fail(name, getattr(self, name), "is not True or False")
        items = self.label_map.items()
        if not items or not all(isinstance(k, str) and _is_int(v, 0) for k, v in items):
            fail("label_map", self.label_map, "must map label strings to integers >= 0")

    def to_json(self) -> dict:
        """The config as JSON types (the split as a list), as stored in `stats.json`."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def _source_files(source: Path, config: PrepareConfig) -> list[Path]:
    return [source / name for name in COMPETITION_FILES[config.full]] if source.is_dir() else [source]


def _read(source: Path, config: PrepareConfig) -> tuple[list[str], np.ndarray]:
    if source.is_dir():
        return read_competition_dir(source, full=config.full)
    if source.is_file():
        return read_labelled_table(source, config.text_col, config.label_col, config.label_map)
    raise MinionError(f"{source}: no such file or directory")


def _sha256_files(paths: Iterable[Path]) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def _by_label(labels: Iterable[int], label_values: list[int]) -> dict[str, int]:
    counts = Counter(int(y) for y in labels)
    return {str(y): counts[y] for y in label_values}


def _write_atomic(path: Path, chunks: Iterable[str]) -> str:
    """Write UTF-8 text under a temporary name, then rename; returns the sha256 of the bytes."""
    digest = hashlib.sha256()
    try:
        with temporary_path(path) as tmp, open(tmp, "wb") as f:
            for chunk in chunks:
                data = chunk.encode("utf-8")
                digest.update(data)
                f.write(data)
    except OSError as e:
        raise MinionError(f"{path}: cannot write: {e.strerror}") from None
    return digest.hexdigest()


def _split_sizes(n: int, split: tuple[float, float, float]) -> list[int]:
    n_val, n_test = (int(n * f + 1e-9) for f in split[1:])
    sizes = [n - n_val - n_test, n_val, n_test]
    for name, size, fraction in zip(SPLITS, sizes, split):
        if fraction > 0 and size == 0:
            raise MinionError(f"{n} examples after dedupe are too few for split {split}: {name} would be empty")
    return sizes


def prepare(source: Path, out_dir: Path, config: PrepareConfig | None = None) -> dict:
    """Prepare `source` (a competition directory or a labelled CSV/TSV) into `out_dir`.

    Writes `train.tsv`, `val.tsv`, `test.tsv` (header `text\\tlabel`; read them with
    `minion_tf.data.tweets.read_split`) and `stats.json`, and returns the stats: label counts
    read and after dedupe, rows removed (duplicates, conflicting labels, empty), per-split
    counts, words-per-text percentiles of the written texts, the config, the source and the
    sha256 of inputs and outputs.

    Example:
        >>> stats = prepare(Path("../shared/data/tweets/sentiment140"), Path("data/prepared"))
        >>> stats["removed"]["duplicates"]
        1234
    """
    config = PrepareConfig() if config is None else config
    source, out_dir = Path(source).resolve(), Path(out_dir)
    raw_texts, raw_labels = _read(source, config)
    source_sha256 = _sha256_files(_source_files(source, config))
    texts = [
        normalize_tweet(t, split_hashtags=config.split_hashtags, anonymise=config.anonymise)
        for t in tqdm(raw_texts, desc="normalising", unit="text", disable=None, leave=False)
    ]

    first_label: dict[str, int] = {}
    conflicting: set[str] = set()
    for text, label in zip(texts, raw_labels.tolist()):
        if text and first_label.setdefault(text, label) != label:
            conflicting.add(text)
    conflicting_rows = sum(text in conflicting for text in texts)
    emptied = texts.count("")
    kept = sorted((t, y) for t, y in first_label.items() if t not in conflicting)
    order = np.random.default_rng(config.seed).permutation(len(kept))[: config.max_examples]
    examples = [kept[i] for i in order]

    label_values = sorted(set(config.label_map.values()) | set(raw_labels.tolist()))
    sizes = _split_sizes(len(examples), config.split)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / STATS).unlink(missing_ok=True)
    except OSError as e:
        raise MinionError(f"{out_dir}: cannot write there: {e.strerror}") from None
    splits, start = {}, 0
    for name, size in zip(SPLITS, sizes):
        rows = examples[start : start + size]
        start += size
        sha256 = _write_atomic(out_dir / f"{name}.tsv", ["text\tlabel\n", *(f"{t}\t{y}\n" for t, y in rows)])
        splits[name] = {"rows": size, "labels": _by_label((y for _, y in rows), label_values), "sha256": sha256}

    words = np.array([t.count(" ") + 1 for t, _ in examples])
    stats = {
        "source": str(source),
        "source_sha256": source_sha256,
        "config": config.to_json(),
        "read": {"rows": len(texts), "labels": _by_label(raw_labels.tolist(), label_values)},
        "removed": {
            "duplicates": len(texts) - emptied - conflicting_rows - len(kept),
            "conflicting_texts": len(conflicting),
            "conflicting_rows": conflicting_rows,
            "empty_after_normalising": emptied,
        },
        "after_dedupe": {"rows": len(kept), "labels": _by_label((y for _, y in kept), label_values)},
        "written": {"rows": len(examples), "labels": _by_label((y for _, y in examples), label_values)},
        "splits": splits,
        "words_per_text": {
            **{f"p{q}": round(float(np.percentile(words, q)), 2) for q in PERCENTILES},
            "max": int(words.max()),
        },
    }
    _write_atomic(out_dir / STATS, [json.dumps(stats, indent=2) + "\n"])
    return stats


def is_prepared(out_dir: Path, config: PrepareConfig, source: Path) -> bool:
    """True when `out_dir` holds a complete preparation of this `source` (same bytes) with `config`.

    Example:
        >>> if not is_prepared(out, config, source):
        ...     prepare(source, out, config)
    """
    out_dir, source = Path(out_dir), Path(source).resolve()
    try:
        stats = json.loads((out_dir / STATS).read_text(encoding="utf-8"))
        return (
            stats["config"] == config.to_json()
            and stats["source"] == str(source)
            and stats["source_sha256"] == _sha256_files(_source_files(source, config))
            and all(
                _sha256_files([out_dir / f"{name}.tsv"])[f"{name}.tsv"] == stats["splits"][name]["sha256"]
                for name in SPLITS
            )
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False
