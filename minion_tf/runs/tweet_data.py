"""The tweet splits a run trains on: prepared once (dedupe, hashtags, 80/10/10) and reused."""
from __future__ import annotations

import hashlib
from pathlib import Path

from minion_tf.data.prepare import PrepareConfig, is_prepared, prepare
from minion_tf.data.tweets import read_split
from minion_tf.runs.defaults import default_data_dir

SPLITS = ("train", "val", "test")


def is_prepared_dir(path: Path) -> bool:
    return path.is_dir() and all((path / f"{s}.tsv").is_file() for s in SPLITS) and (path / "stats.json").is_file()


def prepared_dir(config) -> Path:
    """The prepared splits for this run's data, seed and cap (prepared here if needed)."""
    source = default_data_dir(config.data)
    if is_prepared_dir(source):
        return source
    prep = PrepareConfig(seed=config.seed, max_examples=config.max_examples)
    key = hashlib.sha256(f"{source.resolve()}|{prep}".encode()).hexdigest()[:10]
    out = Path(config.out) / "prepared" / f"{source.name}-{key}"
    if not is_prepared(out, prep, source):
        stats = prepare(source, out, prep)
        sizes = {name: split["rows"] for name, split in stats["splits"].items()}
        print(f"prepared {source} -> {out}: {stats['removed']['duplicates']} duplicates removed, splits {sizes}")
    return out


def read_splits(directory: Path) -> dict:
    """{"train" | "val" | "test": (texts, labels)} of a prepared folder."""
    return {name: read_split(Path(directory) / f"{name}.tsv") for name in SPLITS}


def load_splits(config) -> dict:
    """{"train" | "val" | "test": (texts, labels)} for a run (prepared first if needed)."""
    return read_splits(prepared_dir(config))
