"""Run one multi-task minBERT configuration: data, (top-k selection), training, dev metrics, one JSON.

A finished run (its run.json exists) is not redone; an interrupted one resumes after its
last finished epoch (weights, optimizer state, history, top-k masks).

Example:
    >>> record = run(MultitaskConfig(pcgrad=True, max_examples_per_task=1000, epochs=2))
    >>> record["final"]["score"]
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from minion_tf.errors import MinionError
from minion_tf.io import folder_lock, temporary_path, write_json
from minion_tf.runs.epoch_logs import EpochLogs
from minion_tf.runs.multitask_config import LOG_FIELDS, MultitaskConfig
from minion_tf.runs.record import git_commit, package_versions, param_line


def build_model(config: MultitaskConfig, encoder):
    """The model with every weight created (one dummy call per output)."""
    import tensorflow as tf

    from minion_tf.models.multitask import MultitaskBert

    model = MultitaskBert(encoder, sts_head=config.sts_head, pooling=config.pooling,
                          head_dropout=config.head_dropout, name="multitask")
    ones = tf.ones((1, 4), tf.int32)
    model({"ids": ones, "mask": ones, "types": 0 * ones, "ids_a": ones, "mask_a": ones,
           "ids_b": ones, "mask_b": ones}, training=False)
    return model


def count_params(model, selected: int | None = None) -> dict:
    encoder = int(sum(np.prod(v.shape) for v in model.encoder.trainable_variables))
    heads = int(sum(np.prod(v.shape) for v in model.trainable_variables)) - encoder
    trainable = heads + (encoder if selected is None else selected)
    return {"trainable": trainable, "total": encoder + heads, "encoder": encoder, "heads": heads,
            "selected_encoder": selected}


def describe(config: MultitaskConfig) -> dict:
    """Parameter counts from the encoder's config alone (random weights, no data, no network)."""
    from minion_tf.backbones import encoder_from_config, load_config

    model = build_model(config, encoder_from_config(load_config(config.encoder)))
    encoder = count_params(model)["encoder"]
    selected = None if config.select_fraction is None else int(round(config.select_fraction * encoder))
    counts = count_params(model, selected)
    print(param_line(counts["trainable"], counts["total"]))
    return counts


def load_data(config: MultitaskConfig, backbone) -> tuple[dict, dict, dict]:
    """({task: train TaskFeatures}, {task: dev TaskFeatures}, data summary)."""
    from minion_tf.data.minbert import load_minbert, subsample
    from minion_tf.training.multitask_batches import TaskFeatures

    kinds = ["quora" if t == "para" else t for t in config.tasks]
    splits = load_minbert(config.data_dir(), kinds, config.split_seed)
    train, dev, summary = {}, {}, {}
    for task, (tr, dv) in splits.items():
        key = "para" if task == "quora" else task
        tr = subsample(tr, config.max_examples_per_task, config.split_seed)
        dv = subsample(dv, config.max_dev_examples, config.split_seed)
        separate = (key == "sts" and config.sts_head != "mlp") or (key in ("para", "sts") and config.kl_consistency > 0)
        train[key] = TaskFeatures.from_split(backbone, tr, config.max_length, separate)
        dev[key] = TaskFeatures.from_split(backbone, dv, config.max_length, separate)
        summary[key] = {"train": len(tr), "dev": len(dv), "skipped_empty_labels": tr.skipped}
    skipped = summary["para"]["skipped_empty_labels"]
    print(f"data: {json.dumps({k: [v['train'], v['dev']] for k, v in summary.items()})} (train, dev); "
          f"paraphrase = seeded 90/10 split of quora-dev.csv (split seed {config.split_seed}), "
          f"{skipped} rows with empty labels skipped", flush=True)
    return train, dev, summary


def phases(config: MultitaskConfig) -> list[tuple[str, int]]:
    """(stage, epoch) pairs: the joint epochs, then each task's head-only epochs."""
    joint = [("joint", e) for e in range(config.epochs)]
    return joint + [(f"final-{t}", e) for t in ("sst", "para", "sts") for e in range(config.final_task_stage)]


def select_parameters(config, trainer, train: dict, directory: Path) -> tuple[list, float]:
    """Top-k masks: loaded if saved, else from squared gradients summed over one pass."""
    from minion_tf.training.multitask_batches import cycling_batches
    from minion_tf.training.topk import select_top_fraction

    path = directory / "topk_masks.npz"
    if path.is_file():
        saved = np.load(path)
        return [saved[f"m{i}"] for i in range(len(saved.files))], 0.0
    start = time.perf_counter()
    rng = np.random.default_rng([config.seed, 10**6])
    streams = {t: cycling_batches(f, config.batch_size, rng) for t, f in train.items()}
    steps = steps_per_epoch(config, train)
    for _ in range(steps):
        trainer.accumulate_step({t: next(s) for t, s in streams.items()})
    masks = select_top_fraction(trainer.accumulator.numpy(), config.select_fraction)
    directory.mkdir(parents=True, exist_ok=True)
    with temporary_path(path) as tmp:
        np.savez(tmp, **{f"m{i}": m for i, m in enumerate(masks)})
    return masks, time.perf_counter() - start


def steps_per_epoch(config: MultitaskConfig, train: dict) -> int:
    """Batches of the largest task, times --iterations-multiplier; smaller tasks cycle."""
    return math.ceil(max(len(f) for f in train.values()) / config.batch_size) * config.iterations_multiplier


def check_same_config(run_dir: Path, config: MultitaskConfig) -> None:
    """Refuse to skip or resume a run folder that holds another configuration (e.g. a reused --name)."""
    path = run_dir / "config.json"
    if not path.is_file():
        return
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise MinionError(f"{path}: unreadable (not JSON); delete {run_dir} to start over") from None
    differs = [k for k, v in config.as_dict().items() if k not in LOG_FIELDS and saved.get(k) != v]
    if differs:
        k = differs[0]
        raise MinionError(f"{run_dir} holds a run with {k}={saved.get(k)!r}, not {getattr(config, k)!r}: "
                          "choose another --name or --out, or delete that folder")


def _epoch_line(entry: dict, total: int) -> str:
    dev = entry["dev"]
    parts = [f"epoch {entry['index'] + 1}/{total} [{entry['stage']}]", f"loss {entry['train_loss']:.4f}"]
    parts += [f"{k} {v:.4f}" for k, v in dev.items()]
    parts.append(f"({entry['train_s']:.0f} s train, {entry['step_s']:.2f} s/step, {entry['eval_s']:.0f} s dev)")
    return "  ".join(parts)


def run(config: MultitaskConfig) -> dict:
    """Train and evaluate one configuration; see the module docstring.

    A run folder another process is working in is refused in one line; the record's timings and
    energy add up every process that worked on the run (`resumes` counts the restarts).
    """
    with folder_lock(config.run_dir(), hint="use another --out or --name"):
        return _run_holding_folder(config)


def _run_holding_folder(config: MultitaskConfig) -> dict:
    import tensorflow as tf
    import tf_keras as keras

    from minion_tf.backbones import load_backbone
    from minion_tf.callbacks.energy_config import EnergyConfig
    from minion_tf.callbacks.energy_sampler import EnergySampler
    from minion_tf.runs import ledger
    from minion_tf.runs.resume import restore_progress, save_progress
    from minion_tf.training.multitask_batches import cycling_batches
    from minion_tf.training.multitask_loop import MultitaskLossConfig, MultitaskTrainer, evaluate
    from minion_tf.training.smart import SmartConfig

    run_dir = config.run_dir()
    record_path = run_dir / "run.json"
    check_same_config(run_dir, config)
    if record_path.is_file():
        print(f"already finished: {record_path}")
        return json.loads(record_path.read_text())
    write_json(run_dir / "config.json", config.as_dict())
    start = time.perf_counter()
    ledger.begin(run_dir)
    keras.utils.set_random_seed(config.seed)
    backbone = load_backbone(config.encoder, trainable=True)
    if config.max_length > backbone.max_positions:
        raise MinionError(f"--max-length {config.max_length} exceeds {backbone.name}'s {backbone.max_positions} positions")
    train, dev, data_summary = load_data(config, backbone)
    model = build_model(config, backbone.encoder)
    optimizer = keras.optimizers.Adam(config.lr)
    optimizer.build(model.trainable_variables)
    smart = (SmartConfig(config.smart_lambda, config.smart_step, config.smart_eps, config.smart_noise)
             if config.smart else None)
    losses = MultitaskLossConfig(config.loss_reduction, config.sst_loss_weight, config.kl_consistency, smart,
                                 config.pcgrad, config.gse)
    progress_dir = run_dir / "progress"
    timings = {"load_s": time.perf_counter() - start}
    trainer = MultitaskTrainer(model, optimizer, losses, config.tasks, seed=config.seed)
    selected = None
    if config.select_fraction is not None:
        masks, timings["selection_s"] = select_parameters(config, trainer, train, progress_dir)
        selected = int(sum(int(m.sum()) for m in masks))
        trainer = MultitaskTrainer(model, optimizer, losses, config.tasks, masks=masks, seed=config.seed)
        print(f"top-k selection: {selected:,} of {count_params(model)['encoder']:,} encoder weights selected "
              f"({100 * config.select_fraction:g} %, squared gradients summed over one pass)", flush=True)
    params = count_params(model, selected)
    print(param_line(params["trainable"], params["total"]), flush=True)

    trackables = {"model": model, "optimizer": optimizer}
    first, history = restore_progress(progress_dir, trackables)
    if first:
        print(f"resuming {run_dir} after epoch {first}", flush=True)

    def this_process() -> dict:
        """This process's seconds so far (`history` also holds the epochs of processes before it)."""
        mine = history[first:]
        return {**timings, "train_s": sum(e["train_s"] for e in mine), "eval_s": sum(e["eval_s"] for e in mine),
                "total_s": time.perf_counter() - start}

    ledger.record(run_dir, this_process())  # loading and top-k selection count even if this process dies
    plan = phases(config)
    sampler = EnergySampler(EnergyConfig(csv_path=str(run_dir / "energy.csv")))
    sampler.start()
    try:
        for index in range(first, len(plan)):
            stage, epoch = plan[index]
            rng = np.random.default_rng([config.seed, index])
            sampler.begin_epoch(index)
            t0 = time.perf_counter()
            if stage == "joint":
                streams = {t: cycling_batches(f, config.batch_size, rng) for t, f in train.items()}
                steps = steps_per_epoch(config, train)
                sums: dict = {}
                for _ in range(steps):
                    for key, value in trainer.train_step({t: next(s) for t, s in streams.items()}, rng).items():
                        sums[key] = sums.get(key, 0.0) + value
                means = {k: v / steps for k, v in sums.items()}
            else:
                task = stage.split("-", 1)[1]
                plan_rows = train[task].plan(config.batch_size, rng)
                steps = len(plan_rows)
                means = {"loss": float(np.mean([trainer.head_step(task, train[task].batch(r)) for r in plan_rows]))}
            train_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            metrics = evaluate(model, dev)
            eval_s = time.perf_counter() - t0
            energy = sampler.end_epoch()
            entry = {"index": index, "stage": stage, "epoch": epoch, "steps": steps, "train_loss": means["loss"],
                     "train_losses": means, "dev": metrics, "train_s": train_s, "step_s": train_s / steps,
                     "eval_s": eval_s, "energy": energy}
            history.append(entry)
            save_progress(progress_dir, trackables, index + 1, history)
            ledger.record(run_dir, this_process(), sampler.so_far())
            EpochLogs(run_dir, config.tensorboard).write(history)
            print(_epoch_line(entry, len(plan)), flush=True)
    finally:
        energy_total = sampler.stop()
    final = history[-1]["dev"]
    ledger.record(run_dir, this_process(), energy_total)
    cost = ledger.totals(run_dir)
    step_s_joint = float(np.mean([e["step_s"] for e in history if e["stage"] == "joint"]))
    record = {"config": config.as_dict(), "run_dir": str(run_dir), "encoder": backbone.name, "epochs": history,
              "final": final, "params": params,
              # every finished phase's own seconds are in the history (also those of runs resumed from before
              # the ledger); loading and total time come from the ledger
              "timings": {**cost["timings"], "train_s": sum(e["train_s"] for e in history),
                          "eval_s": sum(e["eval_s"] for e in history), "step_s_joint": step_s_joint},
              "resumes": cost["resumes"], "data": data_summary, "energy": cost["energy"],
              "versions": package_versions(), "git_commit": git_commit()}
    write_json(record_path, record)
    if "score" in final:
        print(f"dev score {final['score']:.4f} = (SST {final['sst_accuracy']:.4f} + paraphrase "
              f"{final['para_accuracy']:.4f} + (r {final['sts_pearson']:.4f} + 1) / 2) / 3")
    print(f"wrote {record_path}")
    return record
