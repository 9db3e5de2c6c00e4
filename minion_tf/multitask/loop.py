"""Custom train steps of the multi-task model: mixed batches, PCGrad, GSE, top-k masks, SMART,
CFIMDB from SST logits, KL consistency, and a final head-only stage.

One step takes one batch of every task. Task losses: SST cross-entropy (times
`sst_loss_weight`, plus `kl_weight` times the KL-consistency term), CFIMDB cross-entropy
on the mapped SST logits, paraphrase BCE, STS MSE on the raw score; with SMART, each of
SST, paraphrase and STS adds lambda * R. The step loss is their mean or sum. With PCGrad
the shared encoder's per-task gradients are projected (heads keep their own); GSE applies
a PCGrad update, then a plain update on the same batches.

Example:
    >>> trainer = MultitaskTrainer(model, keras.optimizers.Adam(5e-5), MultitaskLossConfig(),
    ...                            tasks=("sst", "para", "sts"))
    >>> losses = trainer.train_step(batches, rng)        # batches: {task: feats dict}
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from minion_tf.errors import MinionError
from minion_tf.metrics.task_metrics import minbert_metrics
from minion_tf.multitask.model import TASKS, clamp_sts
from minion_tf.multitask.pcgrad import pcgrad_combine, random_orders
from minion_tf.multitask.smart import SmartConfig, smart_regularizer
from minion_tf.multitask.topk import SquaredGradientAccumulator, apply_masks

KL_THRESHOLD_STS = 4.5


@dataclass(frozen=True)
class MultitaskLossConfig:
    """How task losses combine and which extras train (see the module docstring)."""

    reduction: str = "mean"
    sst_loss_weight: float = 1.0
    kl_weight: float = 0.0
    smart: SmartConfig | None = None
    pcgrad: bool = False
    gse: bool = False

    def __post_init__(self):
        if self.reduction not in ("mean", "sum"):
            raise MinionError(f"loss reduction must be mean or sum, got {self.reduction!r}")
        if self.sst_loss_weight < 0 or self.kl_weight < 0:
            raise MinionError("sst_loss_weight and kl_weight must be >= 0")


def relaxed_spec(structure):
    """TensorSpecs of a nest of arrays with every dimension left open."""
    return tf.nest.map_structure(lambda a: tf.TensorSpec([None] * np.ndim(a), tf.as_dtype(np.asarray(a).dtype)),
                                 structure)


def per_example_symmetric_kl(logits_p, logits_q):
    log_p, log_q = tf.nn.log_softmax(logits_p), tf.nn.log_softmax(logits_q)
    return tf.reduce_sum((tf.exp(log_p) - tf.exp(log_q)) * (log_p - log_q), -1)


class MultitaskTrainer:
    """Owns the compiled steps; `masks` (one per encoder variable, or None) restrict updates."""

    def __init__(self, model, optimizer, losses: MultitaskLossConfig, tasks=TASKS, masks=None, seed: int = 0):
        self.model = model
        self.optimizer = optimizer
        self.losses = losses
        self.tasks = tuple(tasks)
        self.shared = list(model.encoder.trainable_variables)
        shared_ids = {id(v) for v in self.shared}
        self.head_vars = [v for v in model.trainable_variables if id(v) not in shared_ids]
        self.masks = None if masks is None else [tf.constant(m, tf.float32) for m in masks]
        tf.random.set_seed(seed)
        self._compiled = {}
        self.accumulator = None

    def _run(self, key, fn, *args):
        """Call `fn` compiled once per `key` for any batch and sequence length (no retracing)."""
        if key not in self._compiled:
            self._compiled[key] = tf.function(fn, input_signature=[relaxed_spec(a) for a in args])
        return self._compiled[key](*args)

    # ---- losses
    def task_loss(self, task: str, batch: dict, training: bool = True, regularise: bool = True):
        """The task's loss; `regularise=False` leaves out SMART."""
        model, cfg = self.model, self.losses
        embeds = model.embeddings(task, batch)
        out = model.from_embeddings(task, batch, embeds, training=training)
        labels = batch["labels"]
        if task in ("sst", "cfimdb"):
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, out))
            kind = "classification"
        elif task == "para":
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(labels, out.dtype), out))
            kind = "classification"
        else:
            loss = tf.reduce_mean(tf.square(out - tf.cast(labels, out.dtype)))
            kind = "regression"
        if task == "sst":
            loss = cfg.sst_loss_weight * loss
        if regularise and cfg.smart is not None and cfg.smart.lam > 0 and task in TASKS:
            eval_fn = lambda e: model.from_embeddings(task, batch, e, training=False)  # noqa: E731
            loss = loss + cfg.smart.lam * smart_regularizer(eval_fn, embeds, kind, cfg.smart)
        return loss

    def consistency(self, batch: dict, keep):
        """Mean symmetric KL of the SST head's predictions on the two sentences of the kept pairs."""
        model = self.model
        table = model.encoder.get_input_embeddings().weight
        a, b = (model.sst_logits(tf.gather(table, batch["ids" + s]), batch["mask" + s], training=True)
                for s in ("_a", "_b"))
        keep = tf.cast(keep, tf.float32)
        return tf.reduce_sum(per_example_symmetric_kl(a, b) * keep) / tf.maximum(tf.reduce_sum(keep), 1.0)

    def step_losses(self, batches: dict, training: bool = True) -> dict:
        losses = {task: self.task_loss(task, batches[task], training) for task in self.tasks}
        if self.losses.kl_weight > 0:
            kl = []
            if "para" in batches:
                kl.append(self.consistency(batches["para"], tf.equal(batches["para"]["labels"], 1)))
            if "sts" in batches:
                kl.append(self.consistency(batches["sts"], batches["sts"]["labels"] > KL_THRESHOLD_STS))
            losses["sst"] = losses["sst"] + self.losses.kl_weight * tf.add_n(kl)
        return losses

    def combine(self, losses: dict):
        total = tf.add_n(list(losses.values()))
        return total / float(len(losses)) if self.losses.reduction == "mean" else total

    # ---- steps
    def _masked(self, shared_grads):
        dense = [tf.convert_to_tensor(g) if g is not None else tf.zeros_like(v)
                 for g, v in zip(shared_grads, self.shared)]
        return dense if self.masks is None else apply_masks(dense, self.masks)

    def _plain_update(self, batches):
        variables = self.shared + self.head_vars
        with tf.GradientTape() as tape:
            losses = self.step_losses(batches)
            total = self.combine(losses)
        grads = tape.gradient(total, variables)
        shared = self._masked(grads[:len(self.shared)])
        self.optimizer.apply_gradients(zip(shared + list(grads[len(self.shared):]), variables))
        return total, losses

    def _pcgrad_update(self, batches, orders):
        with tf.GradientTape(persistent=True) as tape:
            losses = self.step_losses(batches)
            total = self.combine(losses)
        per_task = [tape.gradient(losses[t], self.shared) for t in self.tasks]
        head_grads = tape.gradient(total, self.head_vars)
        del tape
        shared = pcgrad_combine(per_task, self.shared, orders, self.losses.reduction)
        self.optimizer.apply_gradients(zip(self._masked(shared) + list(head_grads), self.shared + self.head_vars))
        return total, losses

    def train_step(self, batches: dict, rng: np.random.Generator) -> dict:
        """One step (two updates with GSE); returns the float losses of the (first) update."""
        if self.losses.pcgrad or self.losses.gse:
            total, losses = self._run("pcgrad", self._pcgrad_update, batches, random_orders(len(self.tasks), rng))
            if self.losses.gse:
                self._run("plain", self._plain_update, batches)
        else:
            total, losses = self._run("plain", self._plain_update, batches)
        return {"loss": float(total), **{f"loss_{t}": float(v) for t, v in losses.items()}}

    def _accumulate_squares(self, batches):
        with tf.GradientTape() as tape:
            total = self.combine(self.step_losses(batches))
        self.accumulator.add(tape.gradient(total, self.shared))
        return total

    def accumulate_step(self, batches: dict) -> float:
        """Add this step's squared encoder gradients to the top-k scores (no update)."""
        if self.accumulator is None:
            self.accumulator = SquaredGradientAccumulator(self.shared)
        return float(self._run("accumulate", self._accumulate_squares, batches))

    def head_step(self, task: str, batch: dict) -> float:
        """One update of `task`'s head alone (encoder and other heads frozen)."""
        variables = self.model.heads()[task].trainable_variables

        def update(batch):
            with tf.GradientTape() as tape:
                loss = self.task_loss(task, batch, regularise=False)
            grads = tape.gradient(loss, variables)
            self.optimizer.apply_gradients(zip(grads, variables))
            return loss

        return float(self._run("head-" + task, update, batch))



def predict(model, features, task: str, batch_size: int = 64) -> np.ndarray:
    """Predictions in example order: class ids (SST, CFIMDB, paraphrase) or clamped STS scores."""
    cache = _predictors(model)
    out = np.zeros(len(features), dtype=np.float32)
    for rows in features.plan(batch_size):
        batch = {k: v for k, v in features.batch(rows).items() if k != "labels"}
        if task not in cache:
            cache[task] = tf.function(lambda feats: model.task_output(task, feats, training=False),
                                      input_signature=[relaxed_spec(batch)])
        fn = cache[task]
        values = fn(batch)
        if task in ("sst", "cfimdb"):
            values = tf.argmax(values, -1)
        elif task == "para":
            values = tf.cast(values > 0, tf.int64)
        else:
            values = clamp_sts(values)
        out[rows] = values.numpy()
    return out


_PREDICTORS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _predictors(model) -> dict:
    """Compiled prediction functions of a model, kept off the model (its attributes are checkpointed)."""
    return _PREDICTORS.setdefault(model, {})


def dev_predictions(model, dev: dict, batch_size: int = 64) -> dict:
    """{task: predictions in example order} of every task in `dev` ({task: TaskFeatures})."""
    return {task: predict(model, features, task, batch_size) for task, features in dev.items()}


def evaluate(model, dev: dict, batch_size: int = 64) -> dict:
    """Dev metrics of every task in `dev` ({task: TaskFeatures}) and the overall score."""
    return minbert_metrics(dev_predictions(model, dev, batch_size), {t: f.labels for t, f in dev.items()})
