"""What cheap fine-tuning costs, as a curve: every method against full fine-tuning, at several train
sizes and two encoder sizes, each run through `run()` in a fresh process with an empty cache.

    python benchmarks/cost.py                        # the full curve (hours; resumable: rerun to go on)
    python benchmarks/cost.py --report-only          # tables and figure again from results/cost/*.json
    python benchmarks/cost.py --encoders minilm --sizes 400 --epochs 1 --methods finetune,minion   # a quick look

For each encoder (MiniLM with its real weights; ``random:vinai/bertweet-base``, the paper's
BERTweet-base architecture with seeded random weights and BERTweet's tokenizer: cost does not
depend on the weights) and each train size (``--max-examples`` = size / 0.8: the 80/10/10 split;
default 2,000, 8,000 and 32,000 train tweets, 2,000 and 8,000 at BERTweet-base size, where 32,000
would add about 6 hours and a 19 GiB cache: ``--sizes-for random:vinai/bertweet-base=2000,8000,32000``),
full fine-tuning, READ-64, MINION-64, LoRA-8, LST-8 and MINION-64 streaming its states
(``no_cache``) each run in a child process. From the run's record and the process's clock:

- per phase seconds: start-up (process start to the training phase, the cache build taken out:
  imports, encoder load, data, tokenising), cache build, training (every epoch with its
  validation and checkpoints), test; each epoch's time (the 2nd is the steady one; the 1st also
  traces); peak private memory and RSS per phase (`minion_tf.memory`); test accuracy;
- ratios to full fine-tuning at the same encoder and size: the whole run (start-up + cache +
  epochs + test), the 2nd epoch, private memory at its peak (any phase) and in training;
- where caching pays off: break-even epochs = cache build / (streamed epoch - cached epoch);
- per-step ratios from ``benchmarks/steps.py`` (each train step against one encoder forward,
  alternated in one process; medians), run once per encoder;
- start-up: import times, the encoder load and the first train step's tracing (MiniLM).

Each run's row also gives the load average before and after it and the cores it used (its CPU
seconds over its wall seconds; 2 on a quiet 2-core machine): a run that shared the machine, or was
paused by another process, shows it there.

``--measured-epochs ENCODER=N`` runs N epochs at that encoder (default: 2 at BERTweet-base size) and
extrapolates to ``--epochs`` by adding the measured 2nd epoch; the tables say so in words.

Resumable: each finished measurement is one JSON file under ``--out`` (written atomically), and a
rerun skips what is there; an interrupted measurement is run again from scratch. The report
(``results/cost_curve.md``, ``results/cost_curve.png``) is rebuilt from those files after every
measurement, and by ``--report-only``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_WALL = time.time()  # this process's first moment we can see (a child's start-up begins before)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.errors import MinionError  # noqa: E402
from minion_tf.io import folder_lock, write_json, write_text  # noqa: E402

# name -> (model, options, no_cache, label)
METHODS = {
    "finetune": ("finetune", {}, False, "full fine-tuning"),
    "read": ("read", {"hidden": 64}, False, "READ-64"),
    "minion": ("minion", {"hidden": 64}, False, "MINION-64"),
    "lora": ("lora", {"rank": 8}, False, "LoRA-8"),
    "lst": ("lst", {"reduction": 8}, False, "LST-8"),
    "minion-stream": ("minion", {"hidden": 64}, True, "MINION-64 streamed"),
}
BASELINE = "finetune"
ENCODERS = ("minilm", "random:vinai/bertweet-base")
SIZES = (2000, 8000, 32000)
# At BERTweet-base size 32,000 train tweets would take about 6 more hours and a cache of about 19 GiB of disk;
# used when --sizes is not given (--sizes-for random:vinai/bertweet-base=2000,8000,32000 adds it).
DEFAULT_SIZES_FOR = {"random:vinai/bertweet-base": (2000, 8000)}
TRAIN_SHARE = 0.8  # tweets: 80/10/10 train/val/test
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_TOKENIZERS = {"random:vinai/bertweet-base": str(SHARED_DATA / "bertweet_tokenizer")}
DEFAULT_MEASURED_EPOCHS = {"random:vinai/bertweet-base": 2}
STEP_METHODS = ("finetune", "read", "minion", "lora", "lst")  # what benchmarks/steps.py measures of ours
REPORT = ROOT / "results" / "cost_curve.md"
FIGURE = ROOT / "results" / "cost_curve.png"


# ---------------------------------------------------------------- names and settings

def slug(encoder: str) -> str:
    """A file-name form of an encoder name: ``random:vinai/bertweet-base`` -> ``random_vinai_bertweet-base``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", encoder).strip("_")


def max_examples_for(size: int) -> int:
    """`--max-examples` whose 80 % train split holds `size` tweets (the runner removes duplicates first)."""
    return int(round(size / TRAIN_SHARE))


def run_name(encoder: str, size: int, method: str) -> str:
    return f"{slug(encoder)}-{size}-{method}"


def parse_mapping(items: list[str] | None, flag: str, cast=str) -> dict:
    """``["ENCODER=VALUE", ...]`` -> {encoder: cast(value)}; one line for a malformed item."""
    out = {}
    for item in items or []:
        encoder, sep, value = item.rpartition("=")
        if not sep or not encoder or not value:
            raise MinionError(f"{flag} {item!r}: expected ENCODER=VALUE, e.g. random:vinai/bertweet-base=2")
        try:
            out[encoder] = cast(value)
        except ValueError:
            raise MinionError(f"{flag} {item!r}: {value!r} is not a valid value") from None
    return out


def parse_sizes(text: str, flag: str = "--sizes") -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise MinionError(f"{flag} {text!r}: expected comma-separated train sizes, e.g. 2000,8000,32000") from None
    if not sizes or min(sizes) < 8:
        raise MinionError(f"{flag} {text!r}: give train sizes of at least 8 tweets")
    return sizes


def setting(args, encoder: str, size: int, method: str) -> dict:
    """What decides a measurement (saved with it; a saved one measured otherwise is not reused)."""
    model, options, no_cache, _ = METHODS[method]
    target = args.epochs
    measured = min(args.measured_epochs.get(encoder, target), target)
    return {"encoder": encoder, "size": size, "method": method, "model": model, "options": options,
            "no_cache": no_cache, "max_examples": max_examples_for(size), "epochs_target": target,
            "epochs_run": measured, "batch_size": args.batch_size, "seed": args.seed,
            "tokenizer": args.tokenizers.get(encoder), "data": args.data, "cache_budget_gb": args.cache_budget_gb}


# ---------------------------------------------------------------- machine

def machine() -> dict:
    """nproc, CPU model, RAM, load average now."""
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    mem = math.nan
    try:
        mem = next(int(line.split()[1]) / 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"nproc": affinity, "cpu_count": os.cpu_count(), "cpu": cpu, "ram_gib": mem,
            "loadavg": list(os.getloadavg())}


def package_commit() -> str | None:
    from minion_tf.runs.record import git_commit

    return git_commit()


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# ---------------------------------------------------------------- child processes

def _die_with_parent() -> None:
    """In a child: get SIGTERM when the benchmark process dies (Linux), so no orphan runs on."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def spawn(cmd: list[str], log: Path) -> tuple[int, float, list, list, float]:
    """Run `cmd` with its output in `log`; (exit code, seconds, load average before, after, its CPU seconds).
    CPU seconds well below seconds x nproc on a loaded machine say other processes took the cores."""
    log.parent.mkdir(parents=True, exist_ok=True)
    before, cpu = list(os.getloadavg()), _children_cpu_s()
    start = time.time()
    with open(log, "w", encoding="utf-8") as out:
        out.write(" ".join(cmd) + "\n")
        out.flush()
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                              preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None).returncode
    return code, time.time() - start, before, list(os.getloadavg()), _children_cpu_s() - cpu


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def child_run(spec: dict, result_path: Path) -> None:
    """In the child: one `run()`, the moments each phase began (from `PhasePeaks.enter`), the record's costs."""
    from minion_tf import memory

    marks = {}
    real_enter = memory.PhasePeaks.enter

    def enter(self, phase):  # the runner announces each phase here: note when (wall clock, across processes)
        marks.setdefault(phase, time.time())
        real_enter(self, phase)

    memory.PhasePeaks.enter = enter
    from minion_tf.runs.config import RunConfig
    from minion_tf.runs.runner import run

    config = RunConfig(model=spec["model"], options=spec["options"], epochs=spec["epochs_run"],
                       batch_size=spec["batch_size"], encoder=spec["encoder"], tokenizer=spec["tokenizer"],
                       data=spec["data"], max_examples=spec["max_examples"], seed=spec["seed"], out=spec["work"],
                       no_cache=spec["no_cache"], cache_budget_gb=spec["cache_budget_gb"])
    record = run(config)
    returned = time.time()
    keep = ("epoch_s", "elapsed_s", "loss", "accuracy", "val_score", "val_accuracy")
    write_json(result_path, {
        "child_start": START_WALL, "marks": marks, "returned": returned, "run_dir": str(config.run_dir()),
        "timings": record["timings"], "memory": record["memory"], "resumes": record["resumes"],
        "epochs": [{k: e.get(k) for k in keep} for e in record["epochs"]], "accuracy": record["test"]["accuracy"],
        "score": record["test"]["score"], "data": record["data"], "params": record["params"],
        "streaming": record.get("streaming"), "num_tokens": record.get("num_tokens"),
        "cache_estimate_bytes": record.get("cache_estimate_bytes"), "git_commit": record["git_commit"],
        "tensorflow": record["versions"].get("tensorflow"), "precision": record["config"].get("precision")})


def phases_of(child: dict, spawned: float) -> dict:
    """Seconds per phase of one measured run: start-up is process start (`spawned`) to the training
    phase, minus the cache build; `finish` is saving after the test (outside the whole run)."""
    timings, marks = child["timings"], child["marks"]
    cache = float(timings.get("cache_s", 0.0))
    return {"startup": marks["train"] - spawned - cache, "cache": cache, "train": float(timings["train_s"]),
            "test": float(timings["test_s"]), "finish": child["returned"] - marks["test"] - float(timings["test_s"]),
            "interpreter": child["child_start"] - spawned}


def measure(args, encoder: str, size: int, method: str, path: Path) -> dict:
    """One measurement in a fresh child process with an empty output folder (so an empty cache)."""
    spec = setting(args, encoder, size, method)
    name = run_name(encoder, size, method)
    work = args.work / name
    shutil.rmtree(work, ignore_errors=True)  # an interrupted earlier attempt: start from nothing
    work.mkdir(parents=True)
    spec_path, result_path = work / "spec.json", work / "result.json"
    write_json(spec_path, {**spec, "work": str(work / "runs")})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-run", str(spec_path), str(result_path)]
    log = log_of(args, "run", encoder, size, method)
    spawned = time.time()
    code, seconds, before, after, cpu = spawn(cmd, log)
    if code != 0 or not result_path.is_file():
        shutil.rmtree(work, ignore_errors=True)  # its cache may be large; the log tells what happened
        raise MinionError(f"{name}: the run failed (exit {code}); its output is in {log}")
    child = json.loads(result_path.read_text())
    shutil.rmtree(work, ignore_errors=True)
    epochs = child.pop("epochs")
    out = {"kind": "run", "setting": spec, "label": METHODS[method][3], "command": cmd[:2] + ["--child-run", "..."],
           "started": datetime.datetime.fromtimestamp(spawned).astimezone().isoformat(timespec="seconds"),
           "load_before": before, "load_after": after, "machine": machine(), "process_s": seconds,
           "cpu_s": cpu, "phases_s": phases_of(child, spawned), "epoch_s": [e["epoch_s"] for e in epochs],
           "epoch_elapsed_s": [e["elapsed_s"] for e in epochs], "epochs": epochs, **child}
    write_json(path, out)
    return out


# ---------------------------------------------------------------- start-up (a child, MiniLM)

def child_startup(result_path: Path, data: str | None, batch_size: int) -> None:
    """Import times (in the order a run meets them), encoder loads, and the first train steps' tracing."""
    rows = []

    def timed(label, fn):
        start = time.perf_counter()
        value = fn()
        rows.append({"what": label, "s": time.perf_counter() - start})
        return value

    rows.append({"what": "interpreter start to this script's first line", "s": None, "wall_at": START_WALL})
    timed("import minion_tf.runs.runner (no TensorFlow yet)", lambda: __import__("minion_tf.runs.runner"))
    timed("import tensorflow", lambda: __import__("tensorflow"))
    already = "tf_keras" in sys.modules
    timed("import tf_keras" + (" (tensorflow imported it: TF_USE_LEGACY_KERAS=1)" if already else ""),
          lambda: __import__("tf_keras"))

    def transformers():
        from minion_tf.backbones.transformers_tf import _quiet_transformers

        return _quiet_transformers()

    timed("import transformers (with its TF modelling code)", transformers)
    timed("import minion_tf.runs.fitting (the rest of a Keras run's imports)",
          lambda: __import__("minion_tf.runs.fitting"))
    import numpy as np
    import tensorflow as tf

    from minion_tf.backbones import load_backbone
    from minion_tf.batching import pad_batch
    from minion_tf.data.tweets import read_competition_dir
    from minion_tf.runs.defaults import default_data_dir

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from steps import build_step  # the same train step steps.py times

    frozen = timed("load MiniLM, frozen (config, safetensors weights, tokenizer)", lambda: load_backbone("minilm"))
    trainable = timed("load MiniLM again, trainable (warm files)", lambda: load_backbone("minilm", trainable=True))
    texts, _ = read_competition_dir(default_data_dir(data))
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), size=min(len(texts), 10 * batch_size), replace=False)]
    seqs = sorted(frozen.tokenizer.encode(sample, 64), key=len)  # a batch of similar lengths, as runs bucket them
    middle = len(seqs) // 2
    ids, mask = (tf.constant(a) for a in pad_batch(seqs[max(0, middle - batch_size // 2):][:batch_size],
                                                    frozen.tokenizer.pad_id))
    labels = tf.constant(rng.integers(0, 2, size=int(ids.shape[0])))
    forward = tf.function(lambda: tf.cast(frozen.hidden_states(ids, mask), tf.float16))
    states = timed("first encoder forward with all states (tracing + one batch)", forward)
    timed("second encoder forward (one batch)", forward)
    for method in ("finetune", "minion", "read"):
        model_name, options, _, label = METHODS[method]
        backbone = trainable if method == "finetune" else frozen
        inputs = {"ids": ids, "mask": mask} if method == "finetune" else {"states": states, "mask": mask}
        step = timed(f"{label}: build the model and its train step",
                     lambda: build_step(model_name, options, backbone, inputs, labels))
        timed(f"{label}: first train step (tracing + one step)", lambda: step().numpy())
        first = rows[-1]["s"]
        again = []
        for _ in range(2):
            start = time.perf_counter()
            step().numpy()
            again.append(time.perf_counter() - start)
        rows.append({"what": f"{label}: a later train step (median of 2)", "s": float(np.median(again))})
        rows.append({"what": f"{label}: tracing ≈ first − later step", "s": first - float(np.median(again))})
    tokenizer = DEFAULT_TOKENIZERS["random:vinai/bertweet-base"]
    if Path(tokenizer).exists():
        timed("load random:vinai/bertweet-base (build from the shipped config, seeded draw, BERTweet's tokenizer)",
              lambda: load_backbone("random:vinai/bertweet-base", tokenizer))
    write_json(result_path, {"rows": rows, "batch": [int(ids.shape[0]), int(ids.shape[1])],
                             "real_tokens": int(tf.reduce_sum(mask))})


def measure_startup(args, path: Path) -> dict:
    result_path = args.work / "startup" / "result.json"
    shutil.rmtree(result_path.parent, ignore_errors=True)
    result_path.parent.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-startup", str(result_path),
           "--batch-size", str(args.batch_size)] + (["--data", args.data] if args.data else [])
    log = log_of(args, "startup", None, None, None)
    spawned = time.time()
    code, seconds, before, after, cpu = spawn(cmd, log)
    if code != 0 or not result_path.is_file():
        raise MinionError(f"start-up measurement failed (exit {code}); its output is in {log}")
    child = json.loads(result_path.read_text())
    shutil.rmtree(result_path.parent, ignore_errors=True)
    for row in child["rows"]:
        if row.get("wall_at") is not None:
            row["s"] = row.pop("wall_at") - spawned
    out = {"kind": "startup", "encoder": "minilm", **child, "process_s": seconds, "cpu_s": cpu, "load_before": before,
           "load_after": after, "started": now(), "machine": machine(), "git_commit": package_commit()}
    write_json(path, out)
    return out


# ---------------------------------------------------------------- per-step micro-benchmark (benchmarks/steps.py)

STEP_ROW = re.compile(r"^(?P<label>\S.*?)\s+(?P<wall>\d+\.\d+)\s+(?P<cpu>\d+\.\d+)\s+(?P<fwd>\d+\.\d+)"
                      r"\s+(?P<cpufwd>\d+\.\d+)(?:\s+(?P<arith>\d+\.\d+))?\s*$")


def parse_steps(stdout: str) -> list[dict]:
    """The table rows `benchmarks/steps.py` prints: label, wall and CPU medians, ÷ forward, arithmetic."""
    rows = []
    for line in stdout.splitlines():
        if (m := STEP_ROW.match(line)) is None:
            continue
        label = m["label"].strip()
        method = label.split("] ")[-1].split()[0]
        rows.append({"label": label, "method": method, "wall_s": float(m["wall"]), "cpu_s": float(m["cpu"]),
                     "per_forward": float(m["fwd"]), "cpu_per_forward": float(m["cpufwd"]),
                     "arithmetic": float(m["arith"]) if m["arith"] else None})
    return rows


def steps_command(encoder: str, methods: list[str], repeats: int, data: str | None) -> list[str]:
    """benchmarks/steps.py for `encoder`: a ``random:`` encoder is its architecture with ``--random-weights``."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "steps.py")]
    cmd += ["--encoder", encoder.split(":", 1)[1], "--random-weights"] if encoder.startswith("random:") else \
        ["--encoder", encoder]
    return cmd + ["--repeats", str(repeats), "--methods", ",".join(methods)] + (["--data", data] if data else [])


def measure_steps(args, encoder: str, path: Path) -> dict:
    methods = [m for m in STEP_METHODS if m in args.methods]
    cmd = steps_command(encoder, methods, args.step_repeats, args.data)
    log = log_of(args, "steps", encoder, None, None)
    code, seconds, before, after, cpu = spawn(cmd, log)
    text = log.read_text(encoding="utf-8", errors="replace")
    rows = parse_steps(text)
    if code != 0 or not rows:
        raise MinionError(f"benchmarks/steps.py for {encoder} failed (exit {code}) or printed no table; see {log}")
    out = {"kind": "steps", "encoder": encoder, "command": [Path(c).name if c == sys.executable else c for c in cmd],
           "rows": rows, "stdout": text, "duration_s": seconds, "cpu_s": cpu, "load_before": before, "load_after": after,
           "started": now(), "machine": machine(), "git_commit": package_commit()}
    write_json(path, out)
    return out


# ---------------------------------------------------------------- derived figures (pure: tested with fake JSON)

def derive(m: dict) -> dict:
    """One measurement's figures at its target epochs.

    Epoch times are marginal: the 1st from the start of training to the end of its validation, each
    later one from the end of the previous validation to the end of its own (so the callbacks and
    checkpoint between them count). A run of fewer epochs than its target is extrapolated by the
    measured 2nd epoch (`extrapolated` says so); the whole run is start-up + cache + epochs + test.
    """
    s = m["setting"]
    phases = m["phases_s"]
    elapsed = list(m.get("epoch_elapsed_s") or [])
    epochs = [elapsed[0]] + [b - a for a, b in zip(elapsed, elapsed[1:])] if elapsed else list(m["epoch_s"])
    run, target = len(epochs), int(s["epochs_target"])
    steady = epochs[1] if run >= 2 else epochs[0]
    extrapolated = run < target
    train = phases["train"] + (target - run) * steady if extrapolated else phases["train"]
    memory = m.get("memory", {})
    private = [p["private_peak_gib"] for p in memory.values() if not _nan(p.get("private_peak_gib"))]
    rss = [p["rss_peak_gib"] for p in memory.values() if not _nan(p.get("rss_peak_gib"))]
    return {"epochs": epochs, "epochs_run": run, "epochs_target": target, "extrapolated": extrapolated,
            "steady_epoch_s": steady, "steady_is_first": run < 2, "first_epoch_s": epochs[0],
            "startup_s": phases["startup"], "cache_s": phases["cache"], "train_s": train, "test_s": phases["test"],
            "whole_s": phases["startup"] + phases["cache"] + train + phases["test"],
            "whole_measured_s": phases["startup"] + phases["cache"] + phases["train"] + phases["test"],
            "private_peak_gib": max(private) if private else math.nan,
            "rss_peak_gib": max(rss) if rss else math.nan,
            "private_train_gib": memory.get("train", {}).get("private_peak_gib", math.nan),
            "streamed": bool(m.get("streaming")), "accuracy": m.get("accuracy", math.nan),
            "train_examples": m.get("data", {}).get("train")}


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _ratio(a, b) -> float:
    return a / b if not (_nan(a) or _nan(b)) and b > 0 else math.nan


def ratios(method: dict, baseline: dict) -> dict:
    """Derived figures of `method` over those of `baseline` (full fine-tuning, same encoder and size)."""
    return {"whole": _ratio(method["whole_s"], baseline["whole_s"]),
            "epoch": _ratio(method["steady_epoch_s"], baseline["steady_epoch_s"]),
            "private_peak": _ratio(method["private_peak_gib"], baseline["private_peak_gib"]),
            "private_train": _ratio(method["private_train_gib"], baseline["private_train_gib"]),
            "rss_peak": _ratio(method["rss_peak_gib"], baseline["rss_peak_gib"]),
            "extrapolated": method["extrapolated"] or baseline["extrapolated"]}


def break_even(cached: dict, streamed: dict) -> float:
    """Epochs after which building the cache has paid off: cache build / (streamed - cached epoch);
    inf when streaming an epoch is no slower than reading the cache."""
    saved = streamed["steady_epoch_s"] - cached["steady_epoch_s"]
    return cached["cache_s"] / saved if saved > 0 else math.inf


def step_ratios(steps: dict) -> dict:
    """{method: {"per_forward", "per_finetune", "arithmetic"}} from a steps.py table (float32 rows)."""
    rows = {r["method"]: r for r in steps.get("rows", []) if not r["label"].startswith("[")}
    base = rows.get(BASELINE, {}).get("per_forward")
    return {name: {"per_forward": r["per_forward"], "per_finetune": _ratio(r["per_forward"], base),
                   "arithmetic": r["arithmetic"], "wall_s": r["wall_s"]} for name, r in rows.items()}


def load_all(out: Path) -> dict:
    """{"runs": {(encoder, size, method): measurement}, "steps": {encoder: ...}, "startup": ... or None}."""
    found = {"runs": {}, "steps": {}, "startup": None}
    for path in sorted(Path(out).glob("*.json")):
        if path.name.startswith("."):  # a temporary file being written
            continue
        try:
            m = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise MinionError(f"{path}: not JSON; delete it to measure it again") from None
        kind = m.get("kind")
        if kind == "run":
            s = m["setting"]
            found["runs"][(s["encoder"], int(s["size"]), s["method"])] = m
        elif kind == "steps":
            found["steps"][m["encoder"]] = m
        elif kind == "startup":
            found["startup"] = m
    return found


# ---------------------------------------------------------------- report

def _f(x, digits=1, suffix="") -> str:
    if _nan(x):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "never"
    return f"{x:.{digits}f}{suffix}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _order(methods) -> list[str]:
    return sorted(methods, key=_rank)


def _rank(method: str) -> tuple:
    names = list(METHODS)
    return (names.index(method), "") if method in names else (len(names), method)


def _epochs_words(d: dict) -> str:
    if d["extrapolated"]:
        return f"{d['epochs_run']} run, extrapolated to {d['epochs_target']}"
    return f"{d['epochs_run']}"


def encoder_sections(encoder: str, runs: dict, steps: dict | None) -> list[str]:
    """Markdown of one encoder: per-run costs, ratios to full fine-tuning, caching against streaming."""
    lines = [f"## {encoder}" + (" (BERTweet-base architecture, seeded random weights, BERTweet's tokenizer)"
                                if encoder.startswith("random:") else ""), ""]
    mine = {k: v for k, v in runs.items() if k[0] == encoder}
    sizes = sorted({k[1] for k in mine})
    derived = {k: derive(v) for k, v in mine.items()}
    lines += ["### Costs per run (seconds; memory GiB)", ""]
    rows = []
    for size in sizes:
        for method in _order({k[2] for k in mine if k[1] == size}):
            d, m = derived[(encoder, size, method)], mine[(encoder, size, method)]
            mem = m.get("memory", {})
            per_phase = ", ".join(f"{p} {_f(mem[p].get('private_peak_gib'), 2)}/{_f(mem[p].get('rss_peak_gib'), 2)}"
                                  for p in ("startup", "cache", "train", "test") if p in mem)
            label = METHODS.get(method, (None, None, None, method))[3]
            if d["streamed"] and not m["setting"]["no_cache"]:
                label += " (streamed: cache over budget)"
            if m.get("precision") not in (None, "float32"):
                label += f" [{m['precision']}]"
            rows.append([label, f"{d['train_examples']}", _epochs_words(d), _f(d["startup_s"]), _f(d["cache_s"]),
                         _f(d["train_s"]) + (" (extrapolated)" if d["extrapolated"] else ""), _f(d["test_s"]),
                         _f(d["whole_s"]) + (" (extrapolated)" if d["extrapolated"] else ""),
                         _f(d["first_epoch_s"]), _f(d["steady_epoch_s"]) + (" (1st: only one run)" if d["steady_is_first"]
                                                                             else ""),
                         per_phase, _f(d["accuracy"], 3) + (f" after {d['epochs_run']} epochs" if d["extrapolated"] else ""),
                         f"{m['load_before'][0]:.1f} → {m['load_after'][0]:.1f}",
                         _f(_ratio(m.get("cpu_s", math.nan), m.get("process_s", math.nan)), 2)])
    lines += _table(["method", "train tweets", "epochs", "start-up", "cache", "epochs total", "test", "whole run",
                     "1st epoch", "2nd epoch", "private/RSS peak per phase", "test acc", "load 1-min before → after",
                     "cores used (CPU s ÷ wall s)"],
                    rows)
    step = step_ratios(steps) if steps else {}
    lines += ["### Ratios to full fine-tuning (same encoder and size)", "",
              "whole run = start-up + cache + epochs + test, as measured (or extrapolated where said); epoch = the "
              "2nd epoch; private memory at its peak over all phases, and in training; per step = "
              "benchmarks/steps.py's train step ÷ fine-tuning's (one batch, alternated in one process).", ""]
    rows = []
    for size in sizes:
        base = derived.get((encoder, size, BASELINE))
        for method in _order({k[2] for k in mine if k[1] == size}):
            if method == BASELINE or base is None:
                continue
            r = ratios(derived[(encoder, size, method)], base)
            words = " (extrapolated)" if r["extrapolated"] else ""
            per_step = step.get(METHODS.get(method, (method,))[0] if method != "minion-stream" else "", {})
            rows.append([METHODS.get(method, (None, None, None, method))[3], f"{base['train_examples']}",
                         _f(r["whole"], 3) + words, _f(r["epoch"], 3), _f(r["private_peak"], 3),
                         _f(r["private_train"], 3), _f(r["rss_peak"], 3),
                         _f(per_step.get("per_finetune"), 3) if method != "minion-stream" else "—"])
    if rows:
        lines += _table(["method", "train tweets", "whole run", "2nd epoch", "private peak", "private in training",
                         "RSS peak", "per step"], rows)
    else:
        lines += ["(no full fine-tuning run at these sizes: no ratios)", ""]
    rows = []
    for size in sizes:
        cached, streamed = derived.get((encoder, size, "minion")), derived.get((encoder, size, "minion-stream"))
        if cached is None or streamed is None:
            continue
        be = break_even(cached, streamed)
        rows.append([f"{cached['train_examples']}", _f(cached["cache_s"]), _f(cached["steady_epoch_s"]),
                     _f(streamed["steady_epoch_s"]), _f(be, 2),
                     _f(cached["whole_s"]) + (" (extrapolated)" if cached["extrapolated"] else ""),
                     _f(streamed["whole_s"]) + (" (extrapolated)" if streamed["extrapolated"] else "")])
    if rows:
        lines += ["### Where caching pays off (MINION-64: cached against streamed states)", "",
                  "break-even epochs = cache build ÷ (streamed 2nd epoch − cached 2nd epoch): after that many "
                  "epochs the cache has paid for itself.", ""]
        lines += _table(["train tweets", "cache build s", "cached epoch s", "streamed epoch s", "break-even epochs",
                         "whole run cached s", "whole run streamed s"], rows)
    if steps:
        lines += [f"### Per step (benchmarks/steps.py, {steps.get('started', '')}, load "
                  f"{steps['load_before'][0]:.1f} → {steps['load_after'][0]:.1f})", "",
                  "`" + " ".join(steps["command"]) + "`" + (" (its batch is tokenised with MiniLM's tokenizer)"
                                                            if encoder.startswith("random:") else ""), ""]
        rows = [[r["label"], _f(r["wall_s"], 3), _f(r["cpu_s"], 3), _f(r["per_forward"], 2), _f(r["cpu_per_forward"], 2),
                 _f(r["arithmetic"], 2),
                 _f(step.get(r["method"], {}).get("per_finetune"), 3) if not r["label"].startswith("[") else "—"]
                for r in steps["rows"]]
        lines += _table(["step", "wall s", "cpu s", "÷ forward", "cpu ÷ forward", "arithmetic", "÷ fine-tuning step"],
                        rows)
    return lines


def startup_section(startup: dict | None, runs: dict) -> list[str]:
    lines = ["## Start-up (MiniLM)", ""]
    if startup:
        batch, width = startup["batch"]
        lines += [f"One fresh process ({startup['started']}, load {startup['load_before'][0]:.1f} → "
                  f"{startup['load_after'][0]:.1f}), steps in the order a run meets them; train steps on one batch "
                  f"of {batch} tweets × {width} tokens ({startup['real_tokens']} real).", ""]
        lines += _table(["what", "seconds"], [[r["what"], _f(r["s"], 2)] for r in startup["rows"]])
    first = [(k, derive(v)) for k, v in runs.items() if k[0] == "minilm" and derive(v)["epochs_run"] >= 2]
    if first:
        smallest = min(k[1] for k, _ in first)
        rows = [[METHODS.get(k[2], (None, None, None, k[2]))[3], f"{d['train_examples']}", _f(d["startup_s"]),
                 _f(d["first_epoch_s"]), _f(d["steady_epoch_s"]), _f(d["first_epoch_s"] - d["steady_epoch_s"])]
                for k, d in sorted(first, key=lambda x: _rank(x[0][2])) if k[1] == smallest]
        lines += ["In the runs of the curve (smallest size): start-up as measured, and what the 1st epoch costs "
                  "beyond the 2nd (tracing of the train and predict functions, warm-up).", ""]
        lines += _table(["method", "train tweets", "start-up s", "1st epoch s", "2nd epoch s", "1st − 2nd s"], rows)
    return lines


def build_report(found: dict, command: str, figure: Path | None) -> str:
    runs = found["runs"]
    present = {k[0] for k in runs} | set(found["steps"])
    encoders = [e for e in ENCODERS if e in present] + sorted(present - set(ENCODERS))
    everything = list(runs.values()) + list(found["steps"].values()) + ([found["startup"]] if found["startup"] else [])
    machines = {json.dumps({k: m["machine"].get(k) for k in ("nproc", "cpu", "ram_gib")}, sort_keys=True)
                for m in everything if "machine" in m}
    commits = sorted({m.get("git_commit") or "?" for m in everything})
    dates = sorted(m.get("started", "") for m in everything if m.get("started"))
    loads = [m["load_before"][0] for m in everything if "load_before" in m] + \
            [m["load_after"][0] for m in everything if "load_after" in m]
    lines = ["# Cost curve: side-tuning and LoRA against full fine-tuning", "",
             f"Command: `{command}`", "",
             f"Rebuilt {now()} from the measurements in the folder of `--out` (one JSON file each; "
             f"measured {dates[0] if dates else '?'} to {dates[-1] if dates else '?'}).", ""]
    for text in sorted(machines):
        info = json.loads(text)
        lines.append(f"Machine: nproc {info['nproc']}, {info['cpu'] or 'CPU ?'}, {_f(info['ram_gib'], 1)} GiB RAM.")
    if loads:
        lines.append(f"Load average (1 min) before/after each measurement: {min(loads):.1f} to {max(loads):.1f} "
                     "(per run in the tables).")
    lines += [f"Package commit: {', '.join(commits)}.", "",
              "Each run is `runner.run()` in a fresh process with an empty output folder (an empty cache); "
              "start-up = process start to the training phase minus the cache build (imports, encoder load, data, "
              "tokenising); epochs include their validation and checkpoints. Accuracy at BERTweet-base size is "
              "that of random weights: it measures cost only.", ""]
    if figure is not None:
        lines += [f"![ratio against train size]({figure.name})", ""]
    for encoder in encoders:
        lines += encoder_sections(encoder, runs, found["steps"].get(encoder))
    lines += startup_section(found["startup"], runs)
    return "\n".join(lines).rstrip("\n") + "\n"


def plot(found: dict, path: Path) -> Path | None:
    """Whole-run and 2nd-epoch ratio to full fine-tuning against train size: one panel per encoder,
    one line per method (hollow markers: extrapolated). None when there is nothing to plot."""
    runs = found["runs"]
    encoders = list(dict.fromkeys(k[0] for k in runs))
    series = {}
    for encoder in encoders:
        for (enc, size, method), m in runs.items():
            base = runs.get((enc, size, BASELINE))
            if enc != encoder or method == BASELINE or base is None:
                continue
            r = ratios(derive(m), derive(base))
            series.setdefault(encoder, {}).setdefault(method, []).append((derive(base)["train_examples"] or size,
                                                                          r["whole"], r["epoch"], r["extrapolated"]))
    if not series:
        return None
    from matplotlib.figure import Figure

    shown = [e for e in encoders if e in series]
    fig = Figure(figsize=(5.2 * len(shown), 7.6), dpi=110)
    axes = fig.subplots(2, len(shown), squeeze=False)
    colours = dict(zip([m for m in METHODS if m != BASELINE], ("C0", "C1", "C2", "C3", "C4")))
    for col, encoder in enumerate(shown):
        sizes = sorted({p[0] for points in series[encoder].values() for p in points})
        any_extrapolated = any(p[3] for points in series[encoder].values() for p in points)
        for row, (key, what) in enumerate(((1, "whole run"), (2, "2nd epoch"))):
            ax = axes[row][col]
            for method in _order(series[encoder]):
                points = sorted(series[encoder][method])
                xs, ys = [p[0] for p in points], [p[key] for p in points]
                colour = colours.get(method, "C5")
                ax.plot(xs, ys, marker="o", color=colour, label=METHODS.get(method, (0, 0, 0, method))[3])
                hollow = [(x, y) for x, y, p in zip(xs, ys, points) if p[3]]
                if hollow and key == 1:  # only the whole run is extrapolated; the 2nd epoch is measured
                    ax.plot(*zip(*hollow), linestyle="none", marker="o", markersize=9, markerfacecolor="white",
                            color=colour)
            ax.set_xscale("log")
            ax.set_xticks(sizes, [f"{x:,}" for x in sizes])
            ax.minorticks_off()
            ax.set_xlabel("train tweets")
            ax.set_ylabel(f"{what} ÷ full fine-tuning")
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            note = " (hollow: extrapolated epochs)" if key == 1 and any_extrapolated else ""
            ax.set_title(f"{encoder}: {what}{note}", fontsize=9)
            if row == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    from minion_tf.metrics.reliability_plot import save_png

    return save_png(fig, path)


def write_report(args, found: dict) -> str:
    figure = plot(found, args.figure)
    text = build_report(found, args.command, figure)
    write_text(args.report, text)
    return text


# ---------------------------------------------------------------- main

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoders", default=",".join(ENCODERS),
                   help=f"comma-separated encoders (default {','.join(ENCODERS)})")
    p.add_argument("--sizes", default=None,
                   help="train tweets per run, comma-separated (--max-examples = size / 0.8); default 2000,8000,32000, "
                        "and 2000,8000 at random:vinai/bertweet-base (32,000 there: about 6 h more and a 19 GiB cache)")
    p.add_argument("--sizes-for", action="append", metavar="ENCODER=S1,S2",
                   help="other sizes for one encoder (repeatable), e.g. random:vinai/bertweet-base=2000,8000")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)} (default all)")
    p.add_argument("--epochs", type=int, default=5, help="epochs of every run (default 5)")
    p.add_argument("--measured-epochs", action="append", metavar="ENCODER=N",
                   help="run only N (>= 2) epochs at ENCODER and extrapolate to --epochs from the 2nd "
                        "(default random:vinai/bertweet-base=2; ENCODER=0 runs all)")
    p.add_argument("--tokenizer", action="append", metavar="ENCODER=PATH",
                   help="tokenizer of an encoder (default random:vinai/bertweet-base=../shared/data/bertweet_tokenizer)")
    p.add_argument("--batch-size", type=int, default=256, help="batch size of every run (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="tweet folder (default ../shared/data/tweets/sentiment140)")
    p.add_argument("--cache-budget-gb", type=float, default=20.0,
                   help="the runs' --cache-budget-gb: a larger cache streams instead, and the table says so (default 20)")
    p.add_argument("--out", default=str(ROOT / "results" / "cost"),
                   help="folder of the measurements, one JSON each (default results/cost)")
    p.add_argument("--work", default=None, help="folder for the runs' outputs and caches, emptied after each "
                                                "(default a folder in the system's temporary directory)")
    p.add_argument("--report", default=str(REPORT), help="markdown report (default results/cost_curve.md)")
    p.add_argument("--figure", default=str(FIGURE), help="figure (default results/cost_curve.png)")
    p.add_argument("--report-only", action="store_true", help="rebuild the tables and figure from --out; run nothing")
    p.add_argument("--no-steps", action="store_true", help="skip benchmarks/steps.py")
    p.add_argument("--step-repeats", type=int, default=7, help="benchmarks/steps.py --repeats (default 7)")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    p.add_argument("--child-run", nargs=2, metavar=("SPEC", "RESULT"), help=argparse.SUPPRESS)
    p.add_argument("--child-startup", metavar="RESULT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.command = "python benchmarks/cost.py" + "".join(f" {a}" for a in (sys.argv[1:] if argv is None else argv))
    if args.child_run or args.child_startup:
        return args
    args.encoders = [e for e in args.encoders.split(",") if e]
    args.methods = [m for m in args.methods.split(",") if m]
    if unknown := [m for m in args.methods if m not in METHODS]:
        raise MinionError(f"--methods: unknown {unknown[0]!r}; known: {', '.join(METHODS)}")
    if args.epochs < 1:
        raise MinionError(f"--epochs must be at least 1, got {args.epochs}")
    sizes = parse_sizes(args.sizes) if args.sizes else list(SIZES)
    per = {} if args.sizes else {e: list(v) for e, v in DEFAULT_SIZES_FOR.items()}
    per.update({e: parse_sizes(v, "--sizes-for") for e, v in parse_mapping(args.sizes_for, "--sizes-for").items()})
    args.sizes = {e: per.get(e, sizes) for e in args.encoders}
    measured = {**DEFAULT_MEASURED_EPOCHS, **parse_mapping(args.measured_epochs, "--measured-epochs", int)}
    for encoder, n in measured.items():
        if n != 0 and n < 2 and args.epochs >= 2:
            raise MinionError(f"--measured-epochs {encoder}={n}: at least 2 (the 2nd epoch is what is extrapolated)")
    args.measured_epochs = {e: n for e, n in measured.items() if n}
    args.tokenizers = {**DEFAULT_TOKENIZERS, **parse_mapping(args.tokenizer, "--tokenizer")}
    for encoder in args.encoders:
        tok = args.tokenizers.get(encoder)
        if encoder.startswith("random:") and tok and not Path(tok).exists() and not args.report_only:
            raise MinionError(f"tokenizer of {encoder}: {tok} does not exist; pass --tokenizer {encoder}=PATH")
    args.out, args.report, args.figure = Path(args.out), Path(args.report), Path(args.figure)
    args.work = Path(args.work) if args.work else \
        Path(tempfile.gettempdir()) / f"minion-cost-{slug(str(args.out.resolve()))[-80:]}"
    return args


def plan(args) -> list[tuple]:
    """Every measurement of this invocation, in order: start-up, then per encoder its steps and its runs."""
    todo = [] if args.no_startup else [("startup", None, None, None)]
    for encoder in args.encoders:
        if not args.no_steps and any(m in STEP_METHODS for m in args.methods):
            todo.append(("steps", encoder, None, None))
        todo += [("run", encoder, size, method) for size in args.sizes[encoder] for method in args.methods]
    return todo


def path_of(args, kind, encoder, size, method) -> Path:
    if kind == "startup":
        return args.out / "startup-minilm.json"
    if kind == "steps":
        return args.out / f"steps-{slug(encoder)}.json"
    return args.out / f"{run_name(encoder, size, method)}.json"


def log_of(args, kind, encoder, size, method) -> Path:
    name = {"startup": "startup-minilm", "steps": f"steps-{slug(encoder or '')}"}.get(kind) or \
        run_name(encoder, size, method)
    return args.out / "logs" / f"{name}.log"


def check_saved(args, path: Path, kind: str, encoder, size, method) -> bool:
    """Whether `path` holds this measurement already; one line if it was measured with other settings."""
    if not path.is_file():
        return False
    if kind == "run":
        saved = json.loads(path.read_text())["setting"]
        wanted = setting(args, encoder, size, method)
        if diff := [k for k in wanted if saved.get(k) != wanted[k]]:
            raise MinionError(f"{path} was measured with {diff[0]} {saved.get(diff[0])!r}, not {wanted[diff[0]]!r}; "
                              "rerun with its settings, delete it, or use another --out")
    return True


def main(argv=None) -> int:
    try:
        args = parse(argv)
        if args.child_run:
            child_run(json.loads(Path(args.child_run[0]).read_text()), Path(args.child_run[1]))
            return 0
        if args.child_startup:
            child_startup(Path(args.child_startup), args.data, args.batch_size)
            return 0
        if args.report_only:
            found = load_all(args.out)
            if not (found["runs"] or found["steps"] or found["startup"]):
                raise MinionError(f"{args.out}: no measurements to report")
            print(write_report(args, found))
            print(f"wrote {args.report}" + (f" and {args.figure}" if found["runs"] else ""))
            return 0
        return measure_all(args)
    except MinionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def measure_all(args) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    todo = plan(args)
    info = machine()
    print(f"cost curve: {len(todo)} measurements into {args.out}; nproc {info['nproc']}, load "
          f"{info['loadavg'][0]:.1f}; {args.epochs} epochs"
          + "".join(f", {e} runs {n} and extrapolates" for e, n in args.measured_epochs.items() if e in args.encoders),
          flush=True)
    failed = []
    with folder_lock(args.out, hint="another cost.py is measuring into this --out"):
        for i, (kind, encoder, size, method) in enumerate(todo, 1):
            path = path_of(args, kind, encoder, size, method)
            what = {"startup": "start-up (MiniLM)", "steps": f"steps.py {encoder}"}.get(kind) or \
                f"{encoder} {size} train tweets {METHODS[method][3]}"
            if check_saved(args, path, kind, encoder, size, method):
                print(f"[{i}/{len(todo)}] have {what}: {path}", flush=True)
                continue
            print(f"[{i}/{len(todo)}] measuring {what} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
            start = time.time()
            try:
                if kind == "startup":
                    measure_startup(args, path)
                elif kind == "steps":
                    measure_steps(args, encoder, path)
                else:
                    m = measure(args, encoder, size, method, path)
                    d = derive(m)
                    print(f"    whole run {d['whole_s']:.1f} s{' (extrapolated)' if d['extrapolated'] else ''}: "
                          f"start-up {d['startup_s']:.1f}, cache {d['cache_s']:.1f}, epochs {d['train_s']:.1f}, "
                          f"test {d['test_s']:.1f}; 2nd epoch {d['steady_epoch_s']:.1f}; private peak "
                          f"{d['private_peak_gib']:.2f} GiB; acc {d['accuracy']:.3f}", flush=True)
            except MinionError as err:
                print(f"    failed: {err}\n" + tail(log_of(args, kind, encoder, size, method)), file=sys.stderr,
                      flush=True)
                failed.append(what)
                continue
            print(f"    done in {time.time() - start:.0f} s: {path}", flush=True)
            write_report(args, load_all(args.out))
        text = write_report(args, load_all(args.out))
    shutil.rmtree(args.work, ignore_errors=True)
    print(text)
    print(f"wrote {args.report} and {args.figure}")
    if failed:
        print(f"error: {len(failed)} measurement(s) failed: {'; '.join(failed)}; rerun to try them again",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
