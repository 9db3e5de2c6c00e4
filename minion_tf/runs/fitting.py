"""The runner's sequence for a Keras method: backbone, build, feeds, fit (resume, task score per
epoch, early stopping, checkpoints; gradients for what the method trains only), test predictions, save.

Example:
    >>> result = fit_keras(config.method, config, data, run_dir, callbacks_for)
    >>> result["history"][-1]["val_score"], result["best_epoch"]
"""
from __future__ import annotations

import time
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from minion_tf.distribute import lost_worker, make_strategy, worker_task
from minion_tf.errors import MinionError
from minion_tf.memory import free_unused
from minion_tf.methods.base import parameter_count
from minion_tf.models.predicting import forward_pass, predict_ordered
from minion_tf.precision import POLICY_DTYPES, precision_policy
from minion_tf.runs import ledger
from minion_tf.runs.record import param_line
from minion_tf.checkpoints import restore_progress
from minion_tf.runs.resume import EpochCheckpoint
from minion_tf.training.early_stopping import BestEpochStopping, ScoreTimeLogger


def fit_keras(method, config, data, run_dir: Path, callbacks_for, phase=lambda name: None) -> dict:
    """Train `method` (a `KerasMethod`) on `data`; save what it trained; return the record's parts.

    `phase(name)` is told where the work goes next: "cache" (the feeds), "train", "test".
    """
    from minion_tf.backbones import load_backbone

    strategy = make_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    distribute = {"strategy": config.strategy, "replicas": replicas}
    if config.strategy == "multiworker":
        distribute["workers"] = worker_task()[2]
    if config.strategy != "none":
        distribute["per_replica_batch"] = config.batch_size / replicas  # a bucket's last batch is smaller
        print(f"--strategy {config.strategy}: {replicas} replicas" + (f" on {distribute['workers']} workers" if
              "workers" in distribute else "") + f", each about 1/{replicas} of every batch of {config.batch_size} "
              "(the learning rate is not rescaled)", flush=True)
    # the models built here compute in the policy and have their variables on every replica
    with strategy.scope(), precision_policy(config.precision):
        backbone = load_backbone(config.encoder, config.tokenizer, trainable=method.trains_encoder)
        backbone.check_max_length(config.max_length)
        if backbone.precision() != POLICY_DTYPES[config.precision]:
            raise MinionError(f"--precision {config.precision}: the encoder {config.encoder} computes in "
                              f"{backbone.precision()} only (mixed precision applies to tf_keras encoders)")
        if config.precision != "float32":
            print(f"mixed precision: float32 weights, {config.precision} compute", flush=True)
        keras.utils.set_random_seed(config.seed)
        built = method.build(config, backbone, data.spec)
        trainable = parameter_count(built.variables)
        print(param_line(trainable, built.total), flush=True)
        phase("cache")
        feeds = method.feeds(config, data, backbone, run_dir)
        if feeds.timings:
            ledger.record(run_dir, feeds.timings)  # counted even if this process dies later
        if not method.needs_encoder(feeds):  # side network on cached states: free the encoder's weights
            backbone = backbone.without_encoder()
            free_unused()
        model = TrainOnly(feeds.wrap(built.model) if feeds.wrap else built.model, built.variables)
        optimizer = keras.optimizers.Adam(config.resolved_lr(), beta_1=0.9, beta_2=0.999)
        compile_for(model, data.spec, optimizer)  # float16: the optimizer gets loss scaling
    phase("train")
    forward = forward_pass(model)  # one trace for the validation predictions of every epoch and the tests'
    with strategy.scope():  # the optimizer's slots on the replicas too
        fit = fit_epochs(config, data.spec, run_dir, model, built.trained, optimizer, feeds.splits, callbacks_for,
                         built.variables, forward)
    phase("test")
    start = time.perf_counter()
    test_probs = predict_tests(model, feeds.splits, data, config.batch_size, forward)
    timings = {**feeds.timings, "train_s": fit["train_s"], "test_s": time.perf_counter() - start}
    method.save(run_dir, built, config, backbone, data.spec)
    return {"history": fit["history"], "best_epoch": fit["best_epoch"], "test_probs": test_probs,
            "timings": timings, "params": {"trainable": trainable, "total": built.total},
            "details": {**feeds.details, "distribute": distribute}}


class TrainOnly(keras.Model):
    """`model` fitted with gradients for `variables` only: the others are neither differentiated nor updated."""

    def __init__(self, model, variables, **kwargs):
        super().__init__(**kwargs)
        self.inner = model
        self.train_variables = list(variables)

    def call(self, inputs, training=False):
        return self.inner(inputs, training=training)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            if replicas > 1:  # Keras takes each replica's mean / replicas: the global mean only when they hold
                local = tf.cast(tf.shape(y)[0], loss.dtype)  # as many examples; a bucket's short batch does not
                loss *= replicas * local / tf.distribute.get_replica_context().all_reduce("sum", local)
        self.optimizer.minimize(loss, self.train_variables, tape=tape)  # loss scaling too, under mixed precision
        return self.compute_metrics(x, y, y_pred, sample_weight)


def compile_for(model, spec, optimizer) -> None:
    """Cross-entropy and accuracy for a classification task; MSE for a regression one (STS-B)."""
    if spec.is_regression:
        model.compile(optimizer=optimizer, loss="mse")
    else:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def fit_epochs(config, spec, run_dir: Path, model, trained, optimizer, feeds: dict, callbacks_for,
               variables, forward=None) -> dict:
    """Fit `model` on `feeds["train"]` for `config.epochs`, resuming after the last finished epoch.

    `trained` is the part whose weights train and are checkpointed (the side network, or the
    whole model); `variables` are the ones that train. `feeds` map
    "train" / "val" to objects with `dataset(batch_size, seed=..., first_epoch=...)`. Each epoch
    logs the task's validation score, loss and time, the validation split predicted once (with
    `forward`, if given: see `ScoreTimeLogger`) for them and for calibration; with a patience (`config.resolved_patience()`),
    training stops early and ends on the best epoch's weights.
    Returns `{"history": per-epoch logs, "best_epoch": index, "train_s": seconds of this call}`.
    """
    trackables = {"model": trained, "optimizer": optimizer}
    optimizer.build(variables)  # slots exist before a restore fills them
    first_epoch, past = restore_progress(run_dir / "progress", trackables)
    if first_epoch:
        print(f"resuming {run_dir} after epoch {first_epoch}", flush=True)
    val = feeds["val"].dataset(config.batch_size)
    logger = ScoreTimeLogger(spec, val, past, forward=forward)
    callbacks = [logger, *callbacks_for(logger.last_predictions, not spec.is_regression)]
    stopper = None
    if config.resolved_patience():
        stopper = BestEpochStopping(trained, run_dir / "best.weights.h5", config.resolved_patience(),
                                    config.min_delta, past)
        callbacks.append(stopper)
    checkpoint = EpochCheckpoint(run_dir / "progress", trackables, past)
    start = time.perf_counter()
    if first_epoch < config.epochs and not (stopper and stopper.done):
        train = feeds["train"].dataset(config.batch_size, seed=config.seed, first_epoch=first_epoch)
        try:
            model.fit(train, epochs=config.epochs, initial_epoch=first_epoch, verbose=2,
                      callbacks=[*callbacks, checkpoint])
        except Exception as err:
            if config.strategy != "multiworker" or not lost_worker(err):
                raise
            raise MinionError(f"--strategy multiworker: lost a worker in epoch {len(checkpoint.history) + 1} "
                              f"({type(err).__name__}); rerun the same command on every worker to resume after "
                              f"epoch {len(checkpoint.history)}") from None
    train_s = time.perf_counter() - start
    if stopper:
        stopper.restore()
        print(f"best epoch {stopper.best_epoch + 1}: val score {stopper.best:.4f}", flush=True)
    history = checkpoint.history
    return {"history": history, "best_epoch": stopper.best_epoch if stopper else len(history) - 1,
            "train_s": train_s}


def predict_tests(model, feeds: dict, data, batch_size: int, forward=None) -> dict:
    """{test split name: (n, outputs) predictions in example order}."""
    return {n: predict_ordered(model, feeds[n].dataset(batch_size, with_rows=True), len(data.splits[n]),
                               data.spec.num_labels, forward) for n in data.test_names}

