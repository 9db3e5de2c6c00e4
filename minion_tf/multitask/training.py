"""What one multi-task minBERT fit does (`methods.multitask` calls `fit` for the runner): the tasks
tokenised (`load_tasks`), the plan of epochs (`phases`), top-k selection (`select_parameters`)
and the epoch loop.

A fit resumes after its last finished epoch (weights, optimizer state, history; the top-k masks
are saved before the first epoch and read back). It drives the runner's callbacks by hand:
`on_train_begin` with the seconds of loading and selection (the ledger keeps them at once),
`on_epoch_begin` / `on_epoch_end` around every epoch (the energy callback adds its figures to
the epoch's entry, the ledger records the cost so far), `on_train_end`.

Example:
    >>> result = fit(run, options, Path("../shared/data/minbert"), run_dir, callbacks)
    >>> result["test"]["score"]          # the dev score after the last epoch
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from minion_tf.backbones import load_backbone
from minion_tf.data.minbert import load_minbert, subsample
from minion_tf.io import temporary_path
from minion_tf.metrics.task_metrics import minbert_metrics
from minion_tf.multitask.batches import TaskFeatures, cycling_batches

MASKS = "topk_masks.npz"


def task_names(options) -> tuple[str, ...]:
    """The tasks that train: SST, paraphrase, STS (and CFIMDB with `options.cfimdb`)."""
    return ("sst", "para", "sts") + (("cfimdb",) if options.cfimdb else ())


def build_model(encoder, sts_head: str = "mlp", pooling: str = "mean", head_dropout: float = 0.1):
    """The model around `encoder` with every weight created (one dummy call per output)."""
    from minion_tf.multitask.model import MultitaskBert, build_multitask

    return build_multitask(MultitaskBert(encoder, sts_head=sts_head, pooling=pooling, head_dropout=head_dropout,
                                         name="multitask"), length=4)


def count_params(model, selected: int | None = None) -> dict:
    """{"trainable", "total", "encoder", "heads", "selected_encoder"}; `selected`: top-k's encoder weights."""
    encoder = int(sum(np.prod(v.shape) for v in model.encoder.trainable_variables))
    heads = int(sum(np.prod(v.shape) for v in model.trainable_variables)) - encoder
    trainable = heads + (encoder if selected is None else selected)
    return {"trainable": trainable, "total": encoder + heads, "encoder": encoder, "heads": heads,
            "selected_encoder": selected}


def load_tasks(options, backbone, directory: Path, max_length: int, max_examples: int | None
               ) -> tuple[dict, dict, dict]:
    """({task: train TaskFeatures}, {task: dev TaskFeatures}, data summary); `max_examples` caps each
    task's training set, `options.max_dev_examples` each dev set (seeded by `options.split_seed`)."""
    kinds = ["quora" if t == "para" else t for t in task_names(options)]
    splits = load_minbert(directory, kinds, options.split_seed)
    train, dev, summary = {}, {}, {}
    for task, (tr, dv) in splits.items():
        key = "para" if task == "quora" else task
        tr = subsample(tr, max_examples, options.split_seed)
        dv = subsample(dv, options.max_dev_examples, options.split_seed)
        siamese = key == "sts" and options.sts_head != "mlp"
        separate = siamese or (key in ("para", "sts") and options.kl_consistency > 0)
        train[key] = TaskFeatures.from_split(backbone, tr, max_length, separate)
        dev[key] = TaskFeatures.from_split(backbone, dv, max_length, separate)
        summary[key] = {"train": len(tr), "dev": len(dv), "skipped_empty_labels": tr.skipped}
    skipped = summary["para"]["skipped_empty_labels"]
    print(f"data: {json.dumps({k: [v['train'], v['dev']] for k, v in summary.items()})} (train, dev); "
          f"paraphrase = seeded 90/10 split of quora-dev.csv (split seed {options.split_seed}), "
          f"{skipped} rows with empty labels skipped", flush=True)
    return train, dev, summary


def phases(epochs: int, final_task_stage: int) -> list[tuple[str, int]]:
    """(stage, epoch) pairs: the joint epochs, then each task's head-only epochs."""
    joint = [("joint", e) for e in range(epochs)]
    return joint + [(f"final-{t}", e) for t in ("sst", "para", "sts") for e in range(final_task_stage)]


def steps_per_epoch(train: dict, batch_size: int, multiplier: int = 1) -> int:
    """Batches of the largest task, times `multiplier` (--iterations-multiplier); smaller tasks cycle."""
    return math.ceil(max(len(f) for f in train.values()) / batch_size) * multiplier


def select_parameters(trainer, train: dict, batch_size: int, steps: int, fraction: float, seed: int,
                      directory: Path) -> tuple[list, float]:
    """(top-k masks, seconds): loaded if saved in `directory`, else from squared gradients summed over
    `steps` mixed batches, then saved there (so a resumed run trains the same weights)."""
    from minion_tf.multitask.topk import select_top_fraction

    path = Path(directory) / MASKS
    if path.is_file():
        saved = np.load(path)
        return [saved[f"m{i}"] for i in range(len(saved.files))], 0.0
    start = time.perf_counter()
    rng = np.random.default_rng([seed, 10**6])
    streams = {t: cycling_batches(f, batch_size, rng) for t, f in train.items()}
    for _ in range(steps):
        trainer.accumulate_step({t: next(s) for t, s in streams.items()})
    masks = select_top_fraction(trainer.accumulator.numpy(), fraction)
    path.parent.mkdir(parents=True, exist_ok=True)
    with temporary_path(path) as tmp:
        np.savez(tmp, **{f"m{i}": m for i, m in enumerate(masks)})
    return masks, time.perf_counter() - start


def _epoch_line(entry: dict, total: int) -> str:
    parts = [f"epoch {entry['index'] + 1}/{total} [{entry['stage']}]", f"loss {entry['train_loss']:.4f}"]
    parts += [f"{k} {v:.4f}" for k, v in entry["dev"].items()]
    parts.append(f"({entry['train_s']:.0f} s train, {entry['step_s']:.2f} s/step, {entry['eval_s']:.0f} s dev)")
    return "  ".join(parts)


def fit(run, options, directory: Path, run_dir: Path, callbacks: list) -> dict:
    """Train on the minBERT folder `directory`; the runner's result dict (see `methods.base`).

    `run` gives the shared fields (encoder, tokenizer, epochs, batch_size, resolved_lr(), max_length,
    max_examples per task, seed); `options` the method's (`methods.multitask.MultitaskOptions`).
    """
    import tf_keras as keras

    from minion_tf.checkpoints import restore_progress, save_progress
    from minion_tf.multitask import loop
    from minion_tf.multitask.smart import SmartConfig

    run_dir = Path(run_dir)
    start = time.perf_counter()
    keras.utils.set_random_seed(run.seed)
    backbone = load_backbone(run.encoder, run.tokenizer, trainable=True)
    backbone.check_max_length(run.max_length)
    train, dev, summary = load_tasks(options, backbone, directory, run.max_length, run.max_examples)
    model = build_model(backbone.encoder, options.sts_head, options.pooling, options.head_dropout)
    optimizer = keras.optimizers.Adam(run.resolved_lr())
    optimizer.build(model.trainable_variables)
    smart = (SmartConfig(options.smart_lambda, options.smart_step, options.smart_eps, options.smart_noise)
             if options.smart else None)
    losses = loop.MultitaskLossConfig(options.loss_reduction, options.sst_loss_weight, options.kl_consistency, smart,
                                      options.pcgrad, options.gse)
    tasks = task_names(options)
    steps = steps_per_epoch(train, run.batch_size, options.iterations_multiplier)
    progress_dir = run_dir / "progress"
    timings = {"load_s": time.perf_counter() - start}
    trainer = loop.MultitaskTrainer(model, optimizer, losses, tasks, seed=run.seed)
    selected = None
    if options.select_fraction is not None:
        masks, timings["selection_s"] = select_parameters(trainer, train, run.batch_size, steps,
                                                          options.select_fraction, run.seed, progress_dir)
        selected = int(sum(int(m.sum()) for m in masks))
        trainer = loop.MultitaskTrainer(model, optimizer, losses, tasks, masks=masks, seed=run.seed)
        print(f"top-k selection: {selected:,} of {count_params(model)['encoder']:,} encoder weights selected "
              f"({100 * options.select_fraction:g} %, squared gradients summed over one pass)", flush=True)
    params = count_params(model, selected)

    trackables = {"model": model, "optimizer": optimizer}
    first, history = restore_progress(progress_dir, trackables)
    if first:
        print(f"resuming {run_dir} after epoch {first}", flush=True)
    plan = phases(run.epochs, options.final_task_stage)
    labels, predictions = {t: f.labels for t, f in dev.items()}, None
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin(dict(timings))  # the ledger counts loading and selection at once
    fit_start = time.perf_counter()
    for index in range(first, len(plan)):
        stage, epoch = plan[index]
        rng = np.random.default_rng([run.seed, index])
        for callback in callbacks:
            callback.on_epoch_begin(index)
        t0 = time.perf_counter()
        if stage == "joint":
            streams = {t: cycling_batches(f, run.batch_size, rng) for t, f in train.items()}
            sums: dict = {}
            for _ in range(steps):
                for key, value in trainer.train_step({t: next(s) for t, s in streams.items()}, rng).items():
                    sums[key] = sums.get(key, 0.0) + value
            means, done = {k: v / steps for k, v in sums.items()}, steps
        else:
            task = stage.split("-", 1)[1]
            rows = train[task].plan(run.batch_size, rng)
            loss = float(np.mean([trainer.head_step(task, train[task].batch(r)) for r in rows]))
            means, done = {"loss": loss}, len(rows)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        predictions = loop.dev_predictions(model, dev)
        metrics = minbert_metrics(predictions, labels)
        entry = {"index": index, "stage": stage, "stage_epoch": epoch, "steps": done, "train_loss": means["loss"],
                 "train_losses": means, "dev": metrics, "train_s": train_s, "step_s": train_s / done,
                 "eval_s": time.perf_counter() - t0}
        for callback in callbacks:
            callback.on_epoch_end(index, entry)  # energy figures join the entry; the ledger records the cost
        history.append(entry)
        save_progress(progress_dir, trackables, index + 1, history)
        print(_epoch_line(entry, len(plan)), flush=True)
    for callback in callbacks:
        callback.on_train_end()
    timings["train_s"] = time.perf_counter() - fit_start
    if predictions is None:  # every epoch was done before: the last checkpoint's predictions
        predictions = loop.dev_predictions(model, dev)
    final = history[-1]["dev"]
    print(f"dev score {final['score']:.4f} = (SST {final['sst_accuracy']:.4f} + paraphrase "
          f"{final['para_accuracy']:.4f} + (r {final['sts_pearson']:.4f} + 1) / 2) / 3", flush=True)
    return {"history": history, "best_epoch": len(history) - 1, "test": {"score": final["score"], "metrics": final},
            "timings": timings, "params": params, "details": {"final": final, "data": summary},
            "outputs": {f"dev_{t}": (predictions[t], labels[t]) for t in predictions}}
