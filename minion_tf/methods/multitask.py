"""Multi-task minBERT (`--task minbert --model multitask`; DESIGN.md paper 2): one shared encoder
fine-tuned on SST, paraphrase and STS at once, with PCGrad, GSE, SMART, top-k selection, cosine
STS heads, CFIMDB, KL consistency and a final per-task stage as options.

It trains with its own steps (`minion_tf.multitask`), outside Keras' `fit`, so it implements
`fit` and drives the runner's callbacks by hand (as fastText does). It scores itself: the
record's "test" holds the dev metrics after the last epoch (minBERT's test labels are not
public) and "final" the same figures; "data" the examples per task. `--max-examples` caps each
task's training set. Predictions come from one head (`experiments/predict.py --head sst`).

Example:
    >>> run(RunConfig(task="minbert", model="multitask", options={"pcgrad": True}, max_examples=1000,
    ...               epochs=2, batch_size=16, out="runs/multitask"))["final"]["score"]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

from minion_tf.backbones import random_backbone
from minion_tf.errors import MinionError
from minion_tf.methods.base import Method, MethodConfig, flag, option
from minion_tf.multitask import training
from minion_tf.multitask.predict import HEADS, load_head_predictor

# The first CS224N report weighs the sentiment loss without giving the factor; 1.0 leaves SST unweighted
# (its loss is already the largest, ~ln 5 at the start), so results do not hinge on a guessed value.
DEFAULT_SST_LOSS_WEIGHT = 1.0


@dataclass(frozen=True)
class MultitaskOptions(MethodConfig):
    pcgrad: bool = option(False, "PCGrad on the shared encoder's per-task gradients")
    gse: bool = option(False, "GSE: per step one PCGrad update, then one plain update")
    smart: bool = option(False, "SMART adversarial smoothness regulariser on the word embeddings")
    smart_lambda: float = option(5.0, "SMART: weight lambda of its term (default 5)", minimum=0)
    smart_step: float = option(1e-3, "SMART: ascent step size (default 1e-3)", minimum=0)
    smart_eps: float = option(1e-5, "SMART: radius of the max-norm ball (default 1e-5)", minimum=0)
    smart_noise: float = option(1e-5, "SMART: std of the initial noise (default 1e-5)", minimum=0)
    select_fraction: float | None = option(
        None, "train only this fraction of the encoder's weights, the top ones by squared gradient summed over "
              "one pass (default: all)", required=False)
    sts_head: str = option("mlp", "STS head: mlp (the joint pair), cosine (5 * sigmoid(20 * cos(u, v))) or uvcos "
                                  "(MLP on [u; v; cos])", choices=("mlp", "cosine", "uvcos"))
    pooling: str = option("mean", "how a head pools its tokens: cls or mean (default)", choices=("cls", "mean"))
    loss_reduction: str = option("mean", "how task losses combine: mean (default) or sum", choices=("mean", "sum"))
    cfimdb: bool = option(False, "also train CFIMDB 2-class from the SST logits")
    kl_consistency: float = option(0.0, "weight of the SST head's KL consistency on Quora duplicates and STS pairs "
                                        "> 4.5 (default 0 = off)", minimum=0)
    sst_loss_weight: float = option(DEFAULT_SST_LOSS_WEIGHT, "weight of the SST loss (the first report's value is "
                                                             "not given; default 1 = unweighted)", minimum=0)
    iterations_multiplier: int = option(1, "steps per epoch: the largest task's batches times this", minimum=1)
    final_task_stage: int = option(0, "epochs per task of a final stage training one head with everything else "
                                      "frozen (default 0)", minimum=0)
    head_dropout: float = option(0.1, "dropout of the task heads, in [0, 1) (default 0.1)", minimum=0)
    max_dev_examples: int | None = option(None, "seeded cap on each minBERT dev set (default 0 = all)", minimum=10,
                                          required=False)
    split_seed: int = option(0, "seed of the Quora 90/10 split and of the task subsets", minimum=0)

    def __post_init__(self):
        if self.max_dev_examples == 0:  # the command line's "all"
            object.__setattr__(self, "max_dev_examples", None)
        super().__post_init__()
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise MinionError(f"{flag(f.name)} must be a finite number, got {value}")
        if self.select_fraction is not None and not 0.0 < self.select_fraction < 1.0:
            raise MinionError(f"--select-fraction must be in (0, 1), got {self.select_fraction}")
        if not self.head_dropout < 1.0:
            raise MinionError(f"--head-dropout must be in [0, 1), got {self.head_dropout}")


class Multitask(Method):
    """minBERT's three tasks on one encoder (every weight trains, or the top-k fraction of the encoder's)."""

    name, Config = "multitask", MultitaskOptions
    kind = ("transformer", "multi-task fine-tuning (SST, paraphrase, STS)")
    order = 900
    tasks = ("minbert",)
    heads = HEADS
    ignores = ("train_fraction", "max_test_examples", "patience", "min_delta")  # single-task splitting, stopping

    def default_lr(self) -> float:
        """5e-5: the fine-tuning rate of the CS224N minBERT handout (experiments/multitask.py's default)."""
        return 5e-5

    def display_name(self, encoder: str) -> str:
        return f"{encoder} (multi-task)"

    def describe(self, run, spec) -> dict:
        o = self.options
        model = training.build_model(random_backbone(run.encoder).encoder, o.sts_head, o.pooling, o.head_dropout)
        encoder = training.count_params(model)["encoder"]
        selected = None if o.select_fraction is None else int(round(o.select_fraction * encoder))
        return training.count_params(model, selected)

    def fit(self, run, data, run_dir: Path, callbacks_for) -> dict:
        """Train and score on the minBERT folder of `data` (see `minion_tf.multitask.training.fit`)."""
        return training.fit(run, self.options, Path(data.source), Path(run_dir), callbacks_for(None, False))

    @classmethod
    def load_predictor(cls, run_dir: Path, head: str | None = None):
        """`predict(texts, pairs=None) -> (n, outputs)` of one head (sst, para, sts) of a finished run."""
        if head not in HEADS:
            given = "no head" if head is None else f"unknown head {head!r}"
            raise MinionError(f"{run_dir}: a multi-task run, {given}; choose one of {', '.join(HEADS)} (--head)")
        return load_head_predictor(run_dir, head)
