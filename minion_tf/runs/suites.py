"""The run lists behind the reports' results: the ETH tweet comparison, the Pittsburgh GLUE comparison
and the UCSD IMDb one.

Each suite is a list of `RunConfig`s over one `base` (encoder, caps, epochs, out, ...); running
them one by one with `runner.run` skips finished runs and resumes a cut one.

Example:
    >>> configs = glue_suite({"max_examples": 500, "out": "runs/glue"}, tasks=("rte",))
    >>> [(c.label(), c.resolved_lr()) for c in configs][:2]
    [('finetune', 2e-05), ('freeze-4', 2e-05)]
"""
from __future__ import annotations

from dataclasses import replace

from minion_tf.errors import MinionError
from minion_tf.methods.base import KerasMethod
from minion_tf.methods.registry import method_class, methods
from minion_tf.methods.side import SideNetworkMethod
from minion_tf.runs.config import RunConfig

PITTSBURGH_LRS = (2e-5, 1e-3)
GLUE_TASKS = ("rte", "mrpc", "stsb", "cola", "sst2")
PITTSBURGH = ("finetune", "freeze")  # run at both Pittsburgh rates; the others at their own
TWEET_HIDDENS = (64, 8, 256)  # READ's and MINION's h on tweets; the first joins the first pass
KERAS_ONLY = ("precision", "strategy")  # run fields a method with its own loop (fastText) keeps at their defaults
SIDE_ONLY = ("cache_dtype", "cache_layers")  # run fields the methods that read no cached states keep at their defaults


def _config(base: dict, model: str, **fields) -> RunConfig:
    """`model`'s run on `base`, without the fields it does not take (fastText: KERAS_ONLY; all but the side
    networks: SIDE_ONLY): one suite command passes --precision, --cache-dtype, ... to the runs that use them."""
    cls = method_class(model)
    skip = (() if issubclass(cls, KerasMethod) else KERAS_ONLY) + (() if issubclass(cls, SideNetworkMethod)
                                                                    else SIDE_ONLY)
    return RunConfig(**{**{k: v for k, v in base.items() if k not in skip}, "model": model, **fields})


def suite_models(suite: str) -> list[str]:
    """The methods that join `suite` ("tweets", "glue" or "imdb": each method's `suites`), in table order."""
    chosen = [cls for cls in methods().values() if suite in cls.suites]
    return [cls.name for cls in sorted(chosen, key=lambda c: (c.order, c.name))]


def glue_suite(base: dict, tasks=GLUE_TASKS, last_ks=(4, 3, 2, 1), seeded=None, high_lr=None) -> list[RunConfig]:
    """Full and last-k fine-tuning at both Pittsburgh rates, and every other GLUE method (BitFit,
    prompt, MINION-64, LoRA-8, LST-8, ...) at its default size and rate, on each task.

    The order serves a suite cut short for time, in three passes: every task's runs at 2e-5 (and the
    others at their own rates), then the 1e-3 arm, each with one seed; then the runs that take `base`'s
    ``seeds`` once more with all of them (the first seed is found done, the further ones run). With
    `seeded` (labels such as ``"freeze-4"``), only those runs of the first arm take more seeds; with
    `high_lr` (labels), only those runs of full and last-k fine-tuning join the 1e-3 arm.
    """
    first, second = [], []
    for task in tasks:
        for model, options in [("finetune", {}), *[("freeze", {"last_k": k}) for k in last_ks]]:
            for arm, lr in zip((first, second), PITTSBURGH_LRS):
                arm.append(_config(base, model, task=task, options=options, lr=lr))
        first += [_config(base, model, task=task) for model in suite_models("glue") if model not in PITTSBURGH]
    for flag, chosen, among in (("--seeded", seeded, first), ("--high-lr", high_lr, second)):
        if chosen is not None and (unknown := sorted(set(chosen) - {c.label() for c in among})):
            raise MinionError(f"{flag} {unknown[0]}: not one of the GLUE suite's runs it can choose "
                              f"({', '.join(dict.fromkeys(c.label() for c in among))})")
    if high_lr is not None:
        second = [c for c in second if c.label() in high_lr]
    more = first + second if seeded is None else [c for c in first if c.label() in seeded]
    return [replace(c, seeds=1) for c in first + second] + [c for c in more if c.seeds > 1]


def imdb_suite(base: dict, fractions=(0.9, 0.3), models=None) -> list[RunConfig]:
    """The UCSD methods (and every other method that joins the IMDb suite) at each train fraction."""
    return [_config(base, model, task="imdb", train_fraction=fraction)
            for fraction in fractions for model in (models or suite_models("imdb"))]


def tweet_suite(base: dict, hiddens=TWEET_HIDDENS) -> list[RunConfig]:
    """Every method that joins the tweet suite (fastText, full fine-tuning, LoRA-8, READ, MINION, LST-8), the
    ones sized by `hidden` (READ, MINION) at each of `hiddens`, the others at their default size.

    The order serves a suite cut short for time: first the paper's core comparison (fastText, full
    fine-tuning, READ and MINION at the first h), then READ and MINION at the other h (cheap: they
    share one cache), then the other baselines (LoRA, LST: each costs about a fine-tuning run).
    """
    def config(model, **options):
        return _config(base, model, **({"options": options} if options else {}))

    models = suite_models("tweets")
    sized = [m for m in models if method_class(m).size_option == "hidden"]
    core = [m for m in models if m in ("fasttext", "finetune")]
    first = [config(m) for m in core] + [config(m, hidden=hiddens[0]) for m in sized]
    rest = [config(m) for m in models if m not in core and m not in sized]
    return first + [config(m, hidden=h) for h in hiddens[1:] for m in sized] + rest
