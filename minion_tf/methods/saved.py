"""What a finished run saved to rebuild its model: the JSON beside its weights, and its method.

The fine-tuning family writes `trained_model.json` (`methods.encoder`), the side networks
`side_model.json` (`methods.side`); both hold "model" and "options". Files written before
methods had their own options are read too: side networks had {"side": NAME, "hidden": H},
the fine-tuning family "last_k" and "prompt_length" on every method.

Example:
    >>> saved, method = read_saved(Path("runs/tweets/minion-64-lr0.0003-s0-1a2b3c4d"), "side_model.json",
    ...                            "side-tuning run")
    >>> method.label(), saved["options"]
    ('minion-64', {'hidden': 64})
"""
from __future__ import annotations

import json
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.methods.base import Method
from minion_tf.methods.registry import make_method

# the one option each method of the fine-tuning family had before methods had their own
_EARLIER_OPTION = {"freeze": "last_k", "prompt": "prompt_length"}


def read_saved(run_dir: Path, filename: str, what: str) -> tuple[dict, Method]:
    """(saved config with "model" and "options", the method made from them) of `run_dir/filename`;
    without the file, one line saying the folder is not a finished `what`."""
    path = Path(run_dir) / filename
    if not path.is_file():
        raise MinionError(f"{run_dir}: no {filename} (not a finished {what})")
    saved = json.loads(path.read_text())
    if "options" not in saved:  # written before methods had their own options
        saved["model"], saved["options"] = _earlier_options(saved)
    return saved, make_method(saved["model"], saved["options"])


def _earlier_options(saved: dict) -> tuple[str, dict]:
    """(model, options) of a file written before methods had their own options."""
    if "side" in saved:
        return saved["side"], {"hidden": saved["hidden"]}
    model = saved["model"]
    key = _EARLIER_OPTION.get(model)
    return model, ({key: saved[key]} if key is not None and saved.get(key) is not None else {})
