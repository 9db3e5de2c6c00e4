"""The project's command-line scripts (experiments/, benchmarks/) loaded as modules, for tests that call them.

Example:
    >>> transfer = load_script("experiments/transfer.py", "transfer")
"""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: str, name: str):
    """ROOT/`path` run as the module `name`, registered in sys.modules (dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
