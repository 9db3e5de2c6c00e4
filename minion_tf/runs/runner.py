"""Run one configuration end to end: data, training, test metrics, one JSON record.

Example:
    >>> record = run(RunConfig(model="minion", options={"hidden": 64}, max_examples=2000, epochs=1))
    >>> record["test"]["accuracy"]
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from minion_tf.backbones import check_encoder
from minion_tf.callbacks import EnergyConfig
from minion_tf.distribute import is_chief, make_strategy, sum_over_workers, worker_position
from minion_tf.io import folder_lock, temporary_path, write_json
from minion_tf.memory import PhasePeaks, phase_line
from minion_tf.metrics import apply_temperature, calibration_errors, nll, reliability_bins
from minion_tf.metrics.reliability_plot import plot_reliability
from minion_tf.metrics.task_metrics import glue_metrics, primary_score
from minion_tf.methods.base import KerasMethod
from minion_tf.runs import ledger
from minion_tf.runs.config import RunConfig
from minion_tf.runs.epoch_logs import EpochLogs
from minion_tf.runs.record import git_commit, machine, package_versions, param_line
from minion_tf.runs.migrate import check_legacy
from minion_tf.runs.task_data import load_run_data, normalisation, spec_of


ADDITIVE = ("energy_kwh", "energy_counter_kwh", "cpu_energy_kwh")  # summed over workers (the ledger derives power)


def describe(config: RunConfig) -> dict:
    """Parameter counts of the model built from the encoder's config: random weights, no data, no network."""
    counts = config.method.describe(config, spec_of(config))
    print(param_line(counts["trainable"], counts["total"]))
    return counts


def test_metrics(probs: np.ndarray, labels: np.ndarray, temperature: float | None = None) -> dict:
    """Accuracy, NLL and calibration (K = 20) of test predictions; also after temperature scaling."""
    labels = np.asarray(labels)
    out = {"accuracy": float((probs.argmax(1) == labels).mean()), "nll": nll(probs, labels),
           "examples": int(len(labels)), **calibration_errors(probs, labels),
           "reliability": {k: np.asarray(v).tolist() for k, v in reliability_bins(probs, labels).items()}}
    if temperature is not None and np.isfinite(temperature):
        scaled = apply_temperature(probs, temperature)
        out["temperature"] = float(temperature)
        out["scaled"] = {"nll": nll(scaled, labels), **calibration_errors(scaled, labels)}
    return out


def evaluate(data, test_probs: dict, temperature: float | None = None) -> dict:
    """The record's "test": the task's metrics and primary `score` (classifiers: also calibration).

    With several test sets (MNLI matched / mismatched), metrics are suffixed by the set
    ("accuracy_matched"), the score is their mean, and each set's full entry is under "sets".
    """
    spec, sets = data.spec, {}
    for name in data.test_names:
        labels = data.splits[name].labels
        metrics = glue_metrics(spec, test_probs[name], labels)
        entry = {"score": primary_score(spec, metrics), "metrics": metrics, "examples": len(labels)}
        if not spec.is_regression:
            entry.update(test_metrics(test_probs[name], labels, temperature))
        sets[name] = entry
    if len(sets) == 1:
        return next(iter(sets.values()))
    metrics = {f"{m}_{name.split('_', 1)[1]}": v for name, entry in sets.items() for m, v in entry["metrics"].items()}
    return {"score": float(np.mean([e["score"] for e in sets.values()])), "metrics": metrics, "sets": sets}


def task_record(config: RunConfig, data) -> dict:
    """What applying the run to new texts needs: label names, pairs or not, how texts were normalised."""
    spec = data.spec
    out = {"name": spec.name, "labels": None if spec.is_regression else list(spec.labels), "pair": spec.is_pair,
           "metric": spec.primary, "normalise": normalisation(config, data)}
    if data.removed is not None:
        out["removed_by_dedupe"] = data.removed
    return out


def run(config: RunConfig) -> dict:
    """Train and test one configuration (or `config.seeds` of them, averaged; see `run_seeds`).

    A finished run (its run.json exists) is not redone; a run folder another process is working
    in is refused in one line. The record's timings and energy add up every process that worked
    on the run (`resumes` counts the restarts; see `ledger`); its "memory" holds each phase's peak
    private memory and RSS ("startup", "cache", "train", "test"; see `minion_tf.memory`).
    """
    if config.seeds > 1:
        return run_seeds(config)
    if (finished := _finished(config)) is not None:  # no lock needed to read a finished run
        return finished
    check_legacy(config)
    if "encoder" not in config.method.ignores:  # a missing encoder is found before any folder or data are made
        check_encoder(config.encoder)
    if config.strategy == "multiworker":
        make_strategy("multiworker")  # before any other TensorFlow work, as its collectives need
        if not is_chief():
            return _run_as_worker(config)
    with folder_lock(config.run_dir(), hint="use another --out"):
        return _finished(config) or _run_holding_folder(config)


def _run_as_worker(config: RunConfig) -> dict:
    """A worker other than the chief: the same run in a scratch folder of its own (its data, cache and
    checkpoints), from the chief's last finished epoch. The folder goes when the run succeeds; after a failure
    its data and cache stay for the rerun, which replaces only its copy of the run folder."""
    scratch = Path(tempfile.gettempdir()) / f"minion-worker{worker_position()[0]}-{config.run_dir().name}"
    mine = replace(config, out=str(scratch))
    shutil.rmtree(mine.run_dir(), ignore_errors=True)
    progress = config.run_dir() / "progress"
    if progress.is_dir():  # resume where the chief's run folder says (--out on a file system the workers share)
        shutil.copytree(progress, mine.run_dir() / "progress")
    mine.run_dir().mkdir(parents=True, exist_ok=True)
    best = config.run_dir() / "best.weights.h5"  # under --patience, the best epoch so far (fitting's early stopping)
    if best.is_file():  # every replica holds the same weights: the chief's are this worker's too
        shutil.copy2(best, mine.run_dir() / best.name)
    print(f"multiworker: not the chief; working in {scratch} (the chief writes {config.run_dir()})", flush=True)
    record = _run_holding_folder(mine)
    shutil.rmtree(scratch, ignore_errors=True)
    return record


def _finished(config: RunConfig) -> dict | None:
    """The record of a finished run (its run.json), or None."""
    record_path = config.run_dir() / "run.json"
    if not record_path.is_file():
        return None
    print(f"already finished: {record_path}")
    return json.loads(record_path.read_text())


def _run_holding_folder(config: RunConfig) -> dict:
    with PhasePeaks() as memory:  # peak memory per phase, sampled in a thread from here on ("startup")
        return _train_and_record(config, memory)


def _train_and_record(config: RunConfig, memory: PhasePeaks) -> dict:
    method = config.method
    run_dir = config.run_dir()
    record_path = run_dir / "run.json"
    start = time.perf_counter()
    ledger.begin(run_dir)
    data = load_run_data(config)
    sizes = ", ".join(f"{name} {len(split)}" for name, split in data.splits.items())
    print(f"{config.task}: {sizes + ' examples' if sizes else 'data'} from {data.source}", flush=True)
    from minion_tf.callbacks.keras2 import CalibrationCallback, EnergyCallback  # tf_keras
    from minion_tf.runs.resume import EpochLogsCallback, LedgerCallback  # tf_keras

    energy = EnergyCallback(EnergyConfig(csv_path=str(run_dir / "energy.csv")))
    calibration = []

    def callbacks_for(val, calibrate: bool):
        calibration[:] = [CalibrationCallback(val, out_dir=str(run_dir))] if calibrate else []
        return [energy, *calibration, LedgerCallback(run_dir, energy.sampler, start),
                EpochLogsCallback(run_dir, config.tensorboard)]  # last: it writes the logs all others filled

    with energy:
        if isinstance(method, KerasMethod):
            from minion_tf.runs.fitting import fit_keras  # TensorFlow: not before the data are read

            result = fit_keras(method, config, data, run_dir, callbacks_for, memory.enter)
        else:
            memory.enter("train")  # its own test predictions too
            result = method.fit(config, data, run_dir, callbacks_for)
            print(param_line(result["params"]["trainable"], result["params"]["total"]), flush=True)
    EpochLogs(run_dir, config.tensorboard).write(result["history"])
    calib = calibration[0].summary if calibration else {}
    test_probs = result.get("test_probs", {})
    if "test" in result:  # a method that scores itself (multi-task minBERT: its dev metrics) has printed them
        test = result["test"]
    else:
        test = evaluate(data, test_probs, calib.get("temperature"))
        line = f"test: {data.spec.primary} {test['score']:.4f}"
        line += "".join(f"  {m} {v:.4f}" for m, v in test["metrics"].items() if m != data.spec.primary)
        if "ace" in test:
            line += f"  ACE {100 * test['ace']:.2f}  MCE {100 * test['mce']:.2f}  NLL {test['nll']:.4f}"
        print(f"{line}  ({', '.join(f'{n} {len(data.splits[n])}' for n in data.test_names)} examples)")
    if test_probs and not data.spec.is_regression:
        first = data.test_names[0]
        plot_reliability({f"{config.label()} {first}": (test_probs[first], data.splits[first].labels)},
                         run_dir / "reliability_test.png")
    spent = energy.summary
    if config.strategy == "multiworker":  # every worker samples its own devices: the run used them all
        spent = {**spent, **sum_over_workers(make_strategy("multiworker"), {k: spent[k] for k in ADDITIVE})}
    ledger.record(run_dir, {**result["timings"], "total_s": time.perf_counter() - start}, spent, memory.stop())
    cost = ledger.totals(run_dir)
    print(phase_line(cost["memory"]), flush=True)
    record = {
        "config": config.as_dict(),
        "epochs": result["history"],
        "best_epoch": result["best_epoch"],
        "test": test,
        "params": result["params"],
        "timings": cost["timings"],
        "resumes": cost["resumes"],
        "data": {name: len(split) for name, split in data.splits.items()},
        "prepared": data.source,
        "task": task_record(config, data),
        "energy": cost["energy"],
        "memory": cost["memory"],
        "calibration_val": calib,
        **result.get("details", {}),
        "versions": package_versions(),
        "machine": machine(),
        "git_commit": git_commit(),
    }
    arrays = {f"{name}_probs": probs for name, probs in test_probs.items()}
    arrays |= {f"{name}_labels": data.splits[name].labels for name in test_probs}
    for name, (predictions, labels) in result.get("outputs", {}).items():
        arrays |= {f"{name}_predictions": predictions, f"{name}_labels": labels}
    for name, array in arrays.items():  # for intervals and paired comparisons
        with temporary_path(run_dir / f"{name}.npy", array.nbytes) as tmp:
            np.save(tmp, array)
    write_json(record_path, record)
    print(f"wrote {record_path}")
    return record


def run_seeds(config: RunConfig, run_one=None) -> dict:
    """Runs seeds `seed .. seed + seeds - 1` (each with `run_one`, default `run`), then writes their mean
    and spread next to them.

    Example:
        >>> run(RunConfig(task="rte", model="freeze", options={"last_k": 2}, seeds=2))["test"]["score"]["mean"]
    """
    records = [(run_one or run)(replace(config, seed=config.seed + i, seeds=1)) for i in range(config.seeds)]
    scores = np.array([r["test"]["score"] for r in records])
    metrics = {m: [r["test"]["metrics"][m] for r in records] for m in records[0]["test"]["metrics"]}
    summary = {"config": config.as_dict(), "runs": [str(replace(config, seed=config.seed + i, seeds=1).run_dir())
                                                     for i in range(config.seeds)],
               "test": {"score": {"mean": float(scores.mean()), "std": float(scores.std(ddof=1))},
                        "metrics": {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1))}
                                    for m, v in metrics.items()}},
               "train_s": {"mean": float(np.mean([r["timings"]["train_s"] for r in records]))}}
    path = Path(config.out) / f"{replace(config, seeds=1).run_dir().name}-seeds{config.seeds}.json"
    write_json(path, summary)
    print(f"mean of {config.seeds} seeds: {config.task} score {scores.mean():.4f} "
          f"± {scores.std(ddof=1):.4f}; wrote {path}")
    return summary
