"""Where the default data live, and how a user points elsewhere."""
from __future__ import annotations

import os
from pathlib import Path

from minion_tf.errors import MinionError

DATA_ENV = "MINION_DATA"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def shared_data_root() -> Path:
    """``../shared/data`` beside the project checkout."""
    return PROJECT_ROOT.parent / "shared" / "data"


def default_data_dir(path: str | Path | None = None) -> Path:
    """`path` if given, else $MINION_DATA, else ``../shared/data/tweets/sentiment140``; it must exist."""
    path = Path(path or os.environ.get(DATA_ENV) or shared_data_root() / "tweets" / "sentiment140")
    if not path.exists():
        raise MinionError(
            f"no tweet data at {path}: expected train_pos.txt and train_neg.txt (one tweet a line) or a "
            f"labelled CSV/TSV; the Sentiment140 sample lives in ../shared/data/tweets/sentiment140 "
            f"(see ../shared/data/README.md); point --data or ${DATA_ENV} at your copy")
    return path
