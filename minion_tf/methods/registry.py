"""Finds the methods of `experiments/run.py --model`: every `Method` subclass with a `name` in the
modules of `minion_tf.methods`, and those other packages declare in the entry-point group
``minion_tf.methods`` (each entry point names a `Method` subclass).

Example (another package's ``pyproject.toml``):
    [project.entry-points."minion_tf.methods"]
    adapter = "my_package.adapter:AdapterMethod"
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
from functools import cache

import minion_tf.methods
from minion_tf.errors import MinionError
from minion_tf.methods.base import Method, flag

ENTRY_POINT_GROUP = "minion_tf.methods"


def _defined_in(module) -> list[type]:
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Method) and cls.__module__ == module.__name__ and cls.name]


@cache
def methods() -> dict[str, type[Method]]:
    """{name: Method subclass} of every method found (package scan, then entry points)."""
    found: dict[str, type[Method]] = {}

    def add(cls, where: str):
        if not (inspect.isclass(cls) and issubclass(cls, Method) and cls.name):
            raise MinionError(f"{where}: {cls!r} is not a minion_tf Method with a name")
        if inspect.isabstract(cls):
            raise MinionError(f"{where}: method {cls.name!r} does not implement "
                              f"{', '.join(sorted(cls.__abstractmethods__))} (see minion_tf.methods.base)")
        if cls.name in found and found[cls.name] is not cls:
            raise MinionError(f"{where}: method name {cls.name!r} is taken by {found[cls.name].__module__}")
        found[cls.name] = cls

    for info in pkgutil.iter_modules(minion_tf.methods.__path__):
        module = importlib.import_module(f"minion_tf.methods.{info.name}")
        for cls in _defined_in(module):
            add(cls, module.__name__)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = entry.load()
        except Exception as err:
            raise MinionError(f"entry point {entry.name} = {entry.value} ({ENTRY_POINT_GROUP}): cannot load "
                              f"({type(err).__name__}: {err})") from None
        add(cls, f"entry point {entry.name}")
    return dict(sorted(found.items()))


def method_class(name: str) -> type[Method]:
    known = methods()
    if name not in known:
        raise MinionError(f"unknown model {name!r}; known: {', '.join(known)}")
    return known[name]


def option_owners() -> dict[str, list[type[Method]]]:
    """{hyperparameter name: the methods that have it} (a flag is shared by methods that agree on it)."""
    owners: dict[str, list] = {}
    for cls in methods().values():
        for f in cls.Config.options():
            owners.setdefault(f.name, []).append(cls)
    return owners


def make_method(name: str, options: dict | None = None) -> Method:
    """The method `name` with its hyperparameters from `options` (checked; others' refused in one line)."""
    cls = method_class(name)
    options = dict(options or {})
    own = {f.name for f in cls.Config.options()}
    for key in options:
        if key not in own:
            owners = option_owners().get(key)
            where = f"--model {', '.join(c.name for c in owners)}" if owners else "no method"
            raise MinionError(f"{flag(key)} goes with {where}, not --model {name}")
    missing = [key for key in cls.Config.required() if options.get(key) is None]
    if missing:
        help_text = next(f.metadata["help"] for f in cls.Config.options() if f.name == missing[0])
        raise MinionError(f"--model {name} needs {flag(missing[0])} ({help_text})")
    return cls(cls.Config(**options))
