"""The method contract: what one method module gives the runner (`minion_tf.runs.runner`).

A method is one module in `minion_tf.methods` (or in another package, through the entry-point
group ``minion_tf.methods``) holding
- a `MethodConfig` dataclass of its own hyperparameters; each field is an `option` whose help
  text becomes the `--flag` of `experiments/run.py` and whose `minimum` is checked;
- a `Method` subclass with a `name` (``--model NAME``): its default learning rate, its size
  label for tables (``minion-64``), what it builds, which variables train, and what it saves
  and reloads. The registry (`methods.registry`) finds the subclasses itself.

Keras methods (`KerasMethod`) leave the sequence to the runner: it loads the backbone, calls
`build`, prints the counts of what `build` says trains, gets the `feeds` (and drops the encoder
when `needs_encoder(feeds)` says training and testing do not run it), fits with resume, early
stopping and checkpoints (gradients for `Built.variables` only), predicts the test sets and
calls `save`. A method that does not train with Keras (fastText, multi-task minBERT) implements
`fit(run, data, run_dir, callbacks_for)` itself and returns the runner's result dict: "history",
"best_epoch", "timings", "params", optional "details" (merged into the record), and either
"test_probs" ({test split: predictions}, scored by the runner) or its own "test" ({"score",
"metrics"}, recorded as it is) with optional "outputs" ({name: (predictions, labels)}, saved beside
the record as NAME_predictions.npy and NAME_labels.npy for intervals and paired comparisons).

Example (a whole method, `minion_tf/methods/minion.py`):
    >>> @dataclass(frozen=True)
    ... class MinionConfig(MethodConfig):
    ...     hidden: int = option(64, "GRU units h per direction", minimum=1)
    >>> class Minion(SideNetworkMethod):
    ...     name, Config = "minion", MinionConfig
    ...     def default_lr(self): return 1e-3 if self.options.hidden < 64 else 3e-4
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Callable, ClassVar

from minion_tf.errors import MinionError


def option(default, help: str, minimum: float | None = None, choices: tuple | None = None,
           required: bool | None = None):
    """A method hyperparameter: `default`, the help of its flag, its bounds. A default of None means
    the option must be given, unless `required=False` (then None is a value: "off", "all")."""
    required = default is None if required is None else required
    return field(default=default, metadata={"help": help, "minimum": minimum, "choices": choices,
                                            "required": required})


def is_required(f) -> bool:
    """Whether a `MethodConfig` field must be given (a None default, unless the option says otherwise)."""
    return f.metadata.get("required", f.default is None) and f.default_factory is MISSING


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def option_type(f) -> type:
    """The type of an option's values: its default's, or (a None default) the annotation's `X | None`."""
    if f.default is not None:
        return type(f.default)
    named = str(f.type).replace(" ", "").split("|")
    for kind in (bool, int, float, str):
        if kind.__name__ in named:
            return kind
    raise MinionError(f"option {f.name}: cannot tell its type from {f.type!r} (give a default or `int | None` etc.)")


@dataclass(frozen=True)
class MethodConfig:
    """A method's own hyperparameters (none here); subclasses add `option` fields."""

    def __post_init__(self):
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None:
                if is_required(f):  # the method cannot run without it
                    raise MinionError(f"{flag(f.name)} is needed: {meta.get('help', '')}")
                continue
            kind = option_type(f)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind in (int, float) and not numeric or kind is bool and not isinstance(value, bool):
                raise MinionError(f"{flag(f.name)} must be {'a number' if kind is not bool else 'true or false'}, "
                                  f"got {value!r}")
            if kind is int:
                if not float(value).is_integer():
                    raise MinionError(f"{flag(f.name)} must be an integer, got {value!r}")
                object.__setattr__(self, f.name, value := int(value))  # 64.0 and 64: one run key
            elif kind is float:
                object.__setattr__(self, f.name, value := float(value))
            if meta.get("minimum") is not None and value < meta["minimum"]:
                raise MinionError(f"{flag(f.name)} must be at least {meta['minimum']:g}, got {value}")
            if meta.get("choices") and value not in meta["choices"]:
                raise MinionError(f"{flag(f.name)} must be one of {', '.join(map(str, meta['choices']))}, got {value!r}")

    @classmethod
    def options(cls) -> list:
        """The dataclass fields of the hyperparameters (their metadata holds help and bounds)."""
        return list(fields(cls))

    @classmethod
    def required(cls) -> list[str]:
        return [f.name for f in fields(cls) if is_required(f)]


@dataclass
class Built:
    """What `KerasMethod.build` made: the model that is fitted and predicts, the part whose weights
    are checkpointed (`trained`, often the model itself), the variables that train, and the size of
    everything (trained part + frozen encoder)."""

    model: object
    trained: object
    variables: list
    total: int


@dataclass
class Feeds:
    """Each split as an object with `dataset(batch_size, seed=, first_epoch=, with_rows=)`; `wrap`
    turns the built model into the one that reads these feeds (streaming: encoder in front)."""

    splits: dict
    wrap: Callable | None = None
    details: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


class Method(ABC):
    """One training method; an instance holds one run's hyperparameters (`options`)."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    #: Table I's "type" and "training method" columns
    kind: ClassVar[tuple[str, str]] = ("transformer", "")
    #: place in the tables (families together: fastText, fine-tuning family, side networks)
    order: ClassVar[int] = 1000
    #: the reports' suites it joins ("tweets", "glue", "imdb"): see `runs.suites`
    suites: ClassVar[tuple[str, ...]] = ()
    #: run fields that do not change this method's result (left out of its run key)
    ignores: ClassVar[tuple[str, ...]] = ()
    #: the only `--task`s it runs, which no other method runs (empty: the single-task ones)
    tasks: ClassVar[tuple[str, ...]] = ()
    #: a multi-head method's heads, `experiments/predict.py --head NAME`: {name: (label names in
    #: class-id order, or None for a score; whether the head reads sentence pairs)}
    heads: ClassVar[dict] = {}

    def __init__(self, options: MethodConfig | None = None):
        self.options = options if options is not None else self.Config()

    @abstractmethod
    def default_lr(self) -> float:
        """The learning rate when `--lr` is not given (say where it comes from)."""

    #: the option that gives its size in labels (`minion-64`, `freeze-2`) and that a grid varies
    size_option: ClassVar[str | None] = None

    def size(self) -> str | None:
        """The size in the label, or None."""
        return None if self.size_option is None else f"{getattr(self.options, self.size_option):g}"

    def label(self) -> str:
        size = self.size()
        return f"{self.name}-{size}" if size is not None else self.name

    def display_name(self, encoder: str) -> str:
        """The name in the paper-style tables (`MINION-64`, `MiniLM-L6 (fine-tuned)`)."""
        return self.label().upper() if self.size() is not None else self.name

    @abstractmethod
    def describe(self, run, spec) -> dict:
        """{"trainable", "total"} from a model built from the encoder's config (random weights, no data)."""

    @classmethod
    @abstractmethod
    def load_predictor(cls, run_dir: Path):
        """`predict(texts, pairs=None) -> (n, outputs)` from what a finished run saved (a method
        with `heads` also takes `head=NAME`)."""


class KerasMethod(Method):
    """A method trained by the runner's Keras loop; it supplies the model and what trains."""

    #: the encoder's own weights get gradients (the fine-tuning family); else it is frozen
    trains_encoder: ClassVar[bool] = False

    @abstractmethod
    def build(self, run, backbone, spec) -> Built:
        """The model with every weight created and the variables that train (from `run`'s options)."""

    @abstractmethod
    def feeds(self, run, data, backbone, run_dir: Path) -> Feeds:
        """Every split of `data` as the built model reads it (token ids, or cached states)."""

    @abstractmethod
    def save(self, run_dir: Path, built: Built, run, backbone, spec) -> None:
        """What `load_predictor` needs (what trained, and how to rebuild the rest), atomically."""

    def needs_encoder(self, feeds: Feeds) -> bool:
        """Whether the model fitted on `feeds` runs the encoder. If not (a side network on cached states),
        the runner frees the encoder's weights before training, and `save` gets the backbone without them
        (`Backbone.without_encoder`: name, config, tokenizer, dims and identity stay)."""
        return True

    def describe(self, run, spec) -> dict:
        from minion_tf.backbones import random_backbone

        built = self.build(run, random_backbone(run.encoder), spec)
        return {"trainable": parameter_count(built.variables), "total": built.total}


def parameter_count(variables) -> int:
    """Number of scalars in `variables`."""
    return int(sum(v.shape.num_elements() for v in variables))
