"""GPU check: full fine-tuning, READ-64 and MINION-64 at BERTweet-base size, in float32 and mixed_float16.

    bash benchmarks/device_check.sh                      # finds the project's Python, then runs this
    .venv/bin/python benchmarks/device_check.py --steps 20 --json results/device_check.json

It prints one table with a row per model and precision, for a fixed number of train steps on one
synthetic batch. The batch has random token ids: `--batch-size` 256 rows, right-padded to
`--tokens` 32, with lengths uniform in [tokens/2, tokens] (tweets are about 24 tokens). Each row gives:
- seconds per step, and that time ÷ the frozen forward and ÷ full fine-tuning;
- the warm-up (tracing and the first steps);
- energy over the timed steps, as the paper's utilisation energy and as NVML's total-energy
  counter (both from `EnergySampler`, sampled every `--interval` s);
- TensorFlow's peak GPU memory during the row (build, warm-up and steps) and NVML's device memory;
- the trainable share, and whether the GRU ran on cuDNN.

How it measures:
- The encoder is the `vinai/bertweet-base` architecture from the config the package ships, with
  random weights (`random_backbone`). That works offline, and cost does not depend on the weights.
- Every model is built as runs build it: `make_method(name, options).build(run, backbone, spec)`,
  then `TrainOnly`, `compile_for` and Adam(lr, 0.9, 0.999). A step is one call of the train function
  that `fit` calls (`make_train_function`), reading the batch from a `tf.data` iterator.
- Full fine-tuning trains on token ids. READ-64 and MINION-64 train on the float16 states of one
  frozen forward, the row "frozen forward", which is what a cache build computes. As when a run reads
  its cache, those states are copied from host memory at every step. The encoder is released before
  the side networks train.
- Mixed precision means the Keras global policy `mixed_float16`. It is set while each model (and the
  encoder under it) is built and trained, and restored after.
- cuDNN: tf_keras' GRU can return which kernel grappler picked (`return_runtime`: 2 = cuDNN,
  1 = the standard kernel). The check taps that value from the models' own GRU layers, in one
  forward pass on the same batch through the same graph. A separate probe layer would not see
  what grappler picks inside the model's own graph.
- GPU memory grows on demand (`set_memory_growth`). TensorFlow keeps its pool, so NVML's column is
  the process's high-water mark so far; TensorFlow's peak is the row's own.

Time (assumed; the script has not yet run on a GPU): one T4 (16 GB, 8 TFLOPS float32). A BERTweet-base
fine-tuning step on 8,192 tokens is about 4 TFLOP, so about 1 s in float32 and well under that in
mixed precision. The side networks' steps are ~0.05-0.2 of that. Tracing takes 10-40 s per model. The
whole script should take about 4-5 minutes. `--budget` (420 s) skips the rows that would start later.

Without a GPU, it prints one line saying what is missing and exits 0.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minion_tf.process import setup_command  # noqa: E402

setup_command()

from minion_tf.callbacks.energy_config import EnergyConfig  # noqa: E402
from minion_tf.callbacks.energy_sampler import EnergySampler  # noqa: E402
from minion_tf.callbacks.nvml_reader import NvmlReader  # noqa: E402
from minion_tf.errors import MinionError  # noqa: E402

ENCODER = "vinai/bertweet-base"
PRECISIONS = ("float32", "mixed_float16")
MODELS = ("finetune", "forward", "read", "minion")  # measuring order within a precision; the table's order too
RUNTIME_CUDNN, RUNTIME_STANDARD, RUNTIME_NOT_ELIGIBLE, NOT_CALLED = 2.0, 1.0, 0.0, -1.0
_J_PER_KWH = 3.6e6
_GIB = 2.0**30


@dataclass(frozen=True)
class Settings:
    """What the check runs; checks itself.

    Example:
        >>> Settings(steps=20, warmup=3, batch_size=256, tokens=32)
    """

    steps: int = 20
    warmup: int = 3
    batch_size: int = 256
    tokens: int = 32
    hidden: int = 64
    interval_s: float = 0.5
    budget_s: float = 420.0
    precisions: tuple = PRECISIONS
    encoder: str = ENCODER
    seed: int = 0

    def __post_init__(self):
        for name, least in (("steps", 1), ("warmup", 1), ("batch_size", 1), ("tokens", 2), ("hidden", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise MinionError(f"device check: --{name.replace('_', '-')} must be an integer >= {least}, "
                                  f"got {value!r}")
        if not self.budget_s > 0:
            raise MinionError(f"device check: --budget must be a positive number of seconds, got {self.budget_s!r}")
        unknown = [p for p in self.precisions if p not in PRECISIONS]
        if unknown or not self.precisions:
            raise MinionError(f"device check: precisions must be some of {', '.join(PRECISIONS)}, "
                              f"got {', '.join(self.precisions) or 'none'}")
        EnergyConfig(interval_s=self.interval_s)  # the sampler's own check of the interval


# ---------------------------------------------------------------------------------------------- the no-GPU path

def tensorflow_gpus() -> tuple[list, str]:
    """(GPUs TensorFlow sees, a few words on this TensorFlow's build for messages)."""
    import tensorflow as tf

    info = tf.sysconfig.get_build_info()
    build = (f"built with CUDA {info.get('cuda_version')}, cuDNN {info.get('cudnn_version')}"
             if tf.test.is_built_with_cuda() else "built without CUDA")
    return tf.config.list_physical_devices("GPU"), f"TensorFlow {tf.__version__} ({build})"


def no_gpu_reason(nvml=None, tf_gpus=tensorflow_gpus) -> str | None:
    """One line saying why nothing can be measured here, or None when TensorFlow sees a GPU.

    `nvml` replaces the `pynvml` module and `tf_gpus` the TensorFlow query (both for tests).

    Example:
        >>> no_gpu_reason()   # on a machine without a driver
        'device check: nothing measured: no NVIDIA driver or GPU (NVML unavailable (...)); TensorFlow ... sees no GPU'
    """
    reader = NvmlReader(nvml)
    has_nvml = reader.open()
    nvml_gpus, nvml_error = reader.num_gpus, reader.error
    reader.close()
    gpus, tensorflow = tf_gpus()
    if gpus:
        return None
    if not has_nvml:
        return f"device check: nothing measured: no NVIDIA driver or GPU ({nvml_error}); {tensorflow} sees no GPU"
    return (f"device check: nothing measured: NVML sees {nvml_gpus} GPU(s) but {tensorflow} sees none (are its "
            "CUDA and cuDNN libraries installed? e.g. pip install \"tensorflow[and-cuda]\" at the same version)")


# ---------------------------------------------------------------------------------------------- measuring

@contextlib.contextmanager
def precision(policy: str):
    """The Keras (tf_keras) global dtype policy `policy` inside the block, the one before it after.

    Example:
        >>> with precision("mixed_float16"):
        ...     model = build()
    """
    import tf_keras as keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


class TfMemory:
    """TensorFlow's allocator statistics of one device: `reset` starts a row, `peak` is its maximum in bytes.

    Example:
        >>> memory = TfMemory("GPU:0"); memory.reset(); ...; memory.peak() / 2**30
    """

    def __init__(self, device: str = "GPU:0"):
        self.device = device

    def reset(self) -> None:
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats(self.device)

    def current(self) -> float:
        import tensorflow as tf

        return float(tf.config.experimental.get_memory_info(self.device)["current"])

    def peak(self) -> float:
        import tensorflow as tf

        return float(tf.config.experimental.get_memory_info(self.device)["peak"])


def synthetic_batch(batch_size: int, tokens: int, vocab_size: int, pad_id: int, seed: int = 0):
    """(ids, mask, labels) int32: random ids (never `pad_id`), right-padded rows of [tokens/2, tokens] tokens.

    Example:
        >>> ids, mask, labels = synthetic_batch(256, 32, 64001, pad_id=1)
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = rng.integers(max(1, tokens // 2), tokens + 1, size=batch_size)
    mask = (np.arange(tokens)[None, :] < lengths[:, None]).astype(np.int32)
    ids = rng.integers(0, vocab_size - 1, size=(batch_size, tokens))
    ids = np.where(ids >= pad_id, ids + 1, ids)  # every id but the padding one
    ids = np.where(mask == 1, ids, pad_id).astype(np.int32)
    return ids, mask, rng.integers(0, 2, size=batch_size).astype(np.int32)


def _sync(outputs) -> None:
    """Wait for the device: read one value of every output tensor."""
    import tensorflow as tf

    for value in tf.nest.flatten(outputs):
        if isinstance(value, tf.Tensor):
            tf.reshape(value, [-1])[:1].numpy()


def timed(step, warmup: int, steps: int, sampler, clock=time.perf_counter, sync=_sync, background: bool = True) -> dict:
    """Run `step()` `warmup` times, then `steps` times with `sampler` running; the figures of the timed steps.

    Returns {"warmup_s", "seconds"} and the sampler's summary ("energy_kwh", "energy_counter_kwh",
    "gpu_mem_peak_gib", ...). Work queued on the device is waited for (`sync` of the last outputs)
    before each clock reading.

    Example:
        >>> train = model.make_train_function(); it = iter(dataset)
        >>> timed(lambda: train(it), 3, 20, EnergySampler())["seconds"]
    """
    begin = clock()
    for _ in range(warmup):
        outputs = step()
    sync(outputs)
    warmup_s = clock() - begin
    sampler.start(background=background)
    begin = clock()
    for _ in range(steps):
        outputs = step()
    sync(outputs)
    seconds = clock() - begin
    return {**sampler.stop(), "warmup_s": warmup_s, "seconds": seconds}


def gru_layers(model) -> list:
    """The Keras GRU layers `model` calls (a `Bidirectional`'s template layer, which it copies, left out)."""
    import tf_keras as keras

    modules = [model, *model.submodules]
    templates = {id(m.layer) for m in modules if isinstance(m, keras.layers.Bidirectional)}
    found = {}
    for module in modules:
        if isinstance(module, keras.layers.GRU) and id(module) not in templates:
            found.setdefault(id(module), module)
    return list(found.values())


def gru_runtimes(model, inputs) -> list[float]:
    """Which kernel each GRU of `model` ran in one forward pass on `inputs` (training=True, in a tf.function).

    Per GRU: 2 = cuDNN, 1 = the standard kernel (on a CPU, or a GPU with inputs cuDNN refuses),
    0 = settings cuDNN cannot run (not `_could_use_gpu_kernel`), -1 = not called, NaN = unknown
    (a tf_keras whose GRU has no `_defun_gru_call`). The value is
    the runtime tensor tf_keras' GRU computes for `return_runtime`, read from the layer's own call
    (its `_defun_gru_call`, wrapped for this pass only): it is what grappler chose for this graph.

    Example:
        >>> gru_runtimes(side_model, {"states": states, "mask": mask})   # [2.0, 2.0] on a GPU
    """
    import tensorflow as tf

    layers = gru_layers(model)
    seen = [tf.Variable(NOT_CALLED, trainable=False, dtype=tf.float32) for _ in layers]
    tapped = []
    try:
        for layer, value in zip(layers, seen):
            if not getattr(layer, "_could_use_gpu_kernel", False) or not hasattr(layer, "_defun_gru_call"):
                continue
            original = layer._defun_gru_call

            def tap(*args, _original=original, _value=value, **kwargs):
                last_output, outputs, runtime, states = _original(*args, **kwargs)
                _value.assign(tf.cast(runtime, tf.float32))
                return last_output, outputs, runtime, states

            layer._defun_gru_call = tap
            tapped.append(layer)
        tf.function(lambda x: model(x, training=True))(inputs)
    finally:
        for layer in tapped:
            del layer._defun_gru_call  # the class's method again
    return [RUNTIME_NOT_ELIGIBLE if not getattr(layer, "_could_use_gpu_kernel", False)
            else float(value.numpy()) if layer in tapped else math.nan  # math.nan: a tf_keras without the call
            for layer, value in zip(layers, seen)]


def cudnn_label(runtimes: list[float] | None) -> str:
    """The table's cuDNN cell for `gru_runtimes`' values (None or []: the model has no GRU).

    Example:
        >>> cudnn_label([2.0, 2.0]), cudnn_label([1.0, 1.0]), cudnn_label(None)
        ('yes', 'no: 2/2 standard kernel', 'n/a')
    """
    if not runtimes:
        return "n/a"
    if all(r == RUNTIME_CUDNN for r in runtimes):
        return "yes"
    names = ((RUNTIME_CUDNN, "cuDNN"), (RUNTIME_STANDARD, "standard kernel"), (RUNTIME_NOT_ELIGIBLE, "not eligible"),
             (NOT_CALLED, "not called"))
    parts = [f"{sum(r == code for r in runtimes)}/{len(runtimes)} {name}" for code, name in names
             if any(r == code for r in runtimes)]
    if unknown := sum(math.isnan(r) for r in runtimes):
        parts.append(f"{unknown}/{len(runtimes)} unknown")
    return ("partly: " if RUNTIME_CUDNN in runtimes else "no: ") + ", ".join(parts)


def _skipped(model: str, label: str, policy: str, status: str) -> dict:
    return {"model": model, "label": label, "precision": policy, "status": status}


def measure_all(settings: Settings, sampler, memory, backbone_factory, clock=time.perf_counter,
                start: float | None = None, log=None) -> list[dict]:
    """Every row's measurement, precision after precision (see the module docstring for what and how).

    `backbone_factory()` gives the encoder (built under each precision's policy); `memory` is a
    `TfMemory` (or a fake). A row that would start after `settings.budget_s` (since `start`) is
    skipped (`start` is a `clock()` reading, the call's own by default);
    a row TensorFlow fails (e.g. out of memory) is reported as failed, and the rest go on.

    Example:
        >>> measure_all(Settings(), EnergySampler(), TfMemory(), lambda: random_backbone(ENCODER))
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    start = clock() if start is None else start
    out = []
    for policy in settings.precisions:
        out += _measure_precision(settings, policy, sampler, memory, backbone_factory,
                                  lambda: clock() - start > settings.budget_s, log)
    return out


def _measure_precision(settings, policy, sampler, memory, backbone_factory, over_budget, log) -> list[dict]:
    import tensorflow as tf
    import tf_keras as keras

    from minion_tf.methods.base import parameter_count
    from minion_tf.runs.config import RunConfig
    from minion_tf.runs.fitting import TrainOnly, compile_for
    from minion_tf.runs.task_data import TWEETS

    labels = {"finetune": "full fine-tuning", "forward": "frozen forward",
              "read": f"READ-{settings.hidden}", "minion": f"MINION-{settings.hidden}"}
    results, shared = [], {}
    skipped = f"skipped (over the {settings.budget_s:g} s budget)"

    def row(model, measure):
        if over_budget():
            results.append(_skipped(model, labels[model], policy, skipped))
            return
        log(f"device check: {labels[model]}, {policy} ...")
        try:
            with precision(policy):
                memory.reset()
                held = memory.current()
                figures = measure()
        except tf.errors.OpError as err:  # out of memory, a kernel the device lacks: the other rows still run
            log(f"device check: {labels[model]}, {policy} failed: {type(err).__name__}: {str(err).splitlines()[0]}")
            results.append(_skipped(model, labels[model], policy, f"failed: {type(err).__name__}"))
            return
        results.append({"model": model, "label": labels[model], "precision": policy, "status": None,
                        "steps": settings.steps, "tf_held_bytes": held, **figures})

    def run_config(model):
        options = {"hidden": settings.hidden} if model in ("read", "minion") else {}
        return RunConfig(model=model, options=options, encoder=settings.encoder, batch_size=settings.batch_size,
                         max_length=settings.tokens, seed=settings.seed)

    def train(model, run, built, x, y):
        """Time the train function of `built` as `fit_keras` compiles it; tap the GRUs' kernel after."""
        trainer = TrainOnly(built.model, built.variables)
        compile_for(trainer, TWEETS, keras.optimizers.Adam(run.resolved_lr(), beta_1=0.9, beta_2=0.999))
        iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
        train_function = trainer.make_train_function()
        figures = timed(lambda: train_function(iterator), settings.warmup, settings.steps, sampler)
        figures["tf_peak_bytes"] = memory.peak()
        figures["trainable"], figures["total"] = parameter_count(built.variables), built.total
        figures["gru_runtimes"] = gru_runtimes(built.model, x) if model != "finetune" else None
        return figures

    if over_budget():  # not even the encoder is built
        return [_skipped(model, labels[model], policy, skipped) for model in MODELS]
    with precision(policy):
        backbone = backbone_factory()
    backbone.check_max_length(settings.tokens)
    ids, mask, y = synthetic_batch(settings.batch_size, settings.tokens, int(backbone.config.vocab_size),
                                   int(backbone.config.pad_token_id or 0), settings.seed)

    def finetune():
        run = run_config("finetune")
        return train("finetune", run, run.method.build(run, backbone, TWEETS), {"ids": ids, "mask": mask}, y)

    def forward():
        spec = tf.TensorSpec((None, None), tf.int32)
        encode = tf.function(lambda i, m: tf.cast(backbone.hidden_states(i, m), tf.float16),
                             input_signature=[spec, spec])  # as the cache build runs it
        ids_t, mask_t = tf.constant(ids), tf.constant(mask)
        figures = timed(lambda: encode(ids_t, mask_t), settings.warmup, settings.steps, sampler)
        figures["tf_peak_bytes"] = memory.peak()
        figures["trainable"], figures["total"], figures["gru_runtimes"] = 0, int(backbone.encoder.count_params()), None
        shared["states"] = encode(ids_t, mask_t).numpy()
        return figures

    row("finetune", finetune)
    row("forward", forward)
    sides = {}
    for model in ("read", "minion"):  # built while the encoder is there (their size counts it), trained after
        with precision(policy):
            run = run_config(model)
            sides[model] = (run, run.method.build(run, backbone, TWEETS))
    del backbone, finetune, forward
    gc.collect()  # the encoder's weights leave the GPU: training from the cache does not hold it
    for model, (run, built) in sides.items():
        if "states" not in shared:
            results.append(_skipped(model, labels[model], policy, "failed: no states (the frozen forward failed)"))
            continue
        row(model, lambda: train(model, run, built, {"states": shared["states"], "mask": mask}, y))
    return results


# ---------------------------------------------------------------------------------------------- the table

COLUMNS = (  # (row key = header, format of a number)
    ("model", "{}"), ("precision", "{}"), ("s/step", "{:.4f}"), ("÷ fwd", "{:.2f}"), ("÷ full", "{:.3f}"),
    ("warm-up s", "{:.1f}"), ("E util J", "{:.1f}"), ("E NVML J", "{:.1f}"), ("TF peak GiB", "{:.2f}"),
    ("NVML GiB", "{:.2f}"), ("trainable %", "{:.3f}"), ("GRU on cuDNN", "{}"),
)


def rows_from(measurements: list[dict]) -> list[dict]:
    """The table's rows (numbers; NaN where not measured), in `MODELS` order, each precision after the other.

    Seconds per step are the timed seconds over the steps; ÷ fwd and ÷ full divide them by the
    frozen forward's and full fine-tuning's of the same precision. Energies are in joules over the
    timed steps: "E util" the paper's p0 * sum_i u_i/100 * dt_i, "E NVML" the counter's difference.

    Example:
        >>> rows_from(measure_all(settings, sampler, memory, factory))[0]["s/step"]
    """
    nan = math.nan
    per_step = {(m["precision"], m["model"]): m["seconds"] / m["steps"] for m in measurements if not m.get("status")}
    rows = []
    order = {model: i for i, model in enumerate(MODELS)}
    for m in sorted(measurements, key=lambda m: (order.get(m["model"], len(order)), PRECISIONS.index(m["precision"]))):
        row = {"model": m["label"], "precision": m["precision"], "status": m.get("status")}
        if m.get("status"):
            rows.append(row)
            continue
        step = per_step[m["precision"], m["model"]]
        total = m.get("total") or nan
        row.update({
            "s/step": step,
            "÷ fwd": step / per_step.get((m["precision"], "forward"), nan),
            "÷ full": step / per_step.get((m["precision"], "finetune"), nan),
            "warm-up s": m["warmup_s"],
            "E util J": m["energy_kwh"] * _J_PER_KWH,
            "E NVML J": m["energy_counter_kwh"] * _J_PER_KWH,
            "TF peak GiB": m["tf_peak_bytes"] / _GIB,
            "NVML GiB": m["gpu_mem_peak_gib"],
            "trainable %": 100.0 * m["trainable"] / total if m.get("trainable") else nan,
            "GRU on cuDNN": cudnn_label(m.get("gru_runtimes")),
        })
        rows.append(row)
    return rows


def _cell(value, fmt: str) -> str:
    if value is None or isinstance(value, float) and math.isnan(value):
        return "-"
    return fmt.format(value)


def format_table(rows: list[dict]) -> str:
    """The rows as one aligned text table under a header ("-" where not measured; a skipped or
    failed row gives its reason after its precision).

    Example:
        >>> print(format_table(rows_from(measurements)))
    """
    header = [name for name, _ in COLUMNS]
    body = [[_cell(row.get(name), fmt) for name, fmt in COLUMNS] for row in rows]
    measured = [cells for row, cells in zip(rows, body) if not row.get("status")]
    widths = [max([len(name)] + [len(cells[i]) for cells in measured]) for i, name in enumerate(header)]
    last = len(header) - 1

    def render(cells):  # text columns (the first two and the last) to the left, numbers to the right
        return "  ".join(c.ljust(w) if i < 2 or i == last else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    lines = [render(header), "  ".join("-" * w for w in widths)]
    for row, cells in zip(rows, body):
        lines.append(render(cells[:2]) + "  " + row["status"] if row.get("status") else render(cells))
    return "\n".join(line.rstrip() for line in lines)


NOTES = """\
s/step: mean over the {steps} timed steps, after {warmup} warm-up steps (tracing included); batch {batch} x {tokens} tokens.
E util: the paper's eq. 2, p0/3600 * sum_i u_i/100 * dt_i, u_i every {interval:g} s, p0 = {p0:g} kW (an A100's, not this
  GPU's power). E NVML: the GPU's total-energy counter over the same steps. Both count the whole GPU (other processes too).
TF peak: TensorFlow's allocator peak during the row (build, warm-up, steps). NVML GiB: device memory in use, the
  process's high-water mark so far (TensorFlow keeps its pool).
GRU on cuDNN: the kernel each tf_keras GRU of the model ran (its return_runtime value). "standard kernel": the generic one
  (cuDNN refused the inputs); "not eligible": settings cuDNN lacks; "not called": the model ran no Keras GRU."""


# ---------------------------------------------------------------------------------------------- the command

def gpu_description() -> str:
    """Name and compute capability of the first GPU, with TensorFlow's version and CUDA build."""
    import tensorflow as tf

    gpus, tensorflow = tensorflow_gpus()
    details = tf.config.experimental.get_device_details(gpus[0])
    capability = ".".join(map(str, details.get("compute_capability", ()) or ("?",)))
    return f"{details.get('device_name', gpus[0].name)} (compute capability {capability}), {tensorflow}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Settings()
    p.add_argument("--steps", type=int, default=defaults.steps,
                   help=f"timed train steps per row (default {defaults.steps})")
    p.add_argument("--warmup", type=int, default=defaults.warmup,
                   help=f"untimed steps first (default {defaults.warmup})")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"default {defaults.batch_size}")
    p.add_argument("--tokens", type=int, default=defaults.tokens, help=f"padded length (default {defaults.tokens})")
    p.add_argument("--interval", type=float, default=defaults.interval_s,
                   help=f"NVML sampling interval in s (default {defaults.interval_s:g})")
    p.add_argument("--budget", type=float, default=defaults.budget_s,
                   help=f"skip the rows that would start after this many s (default {defaults.budget_s:g})")
    p.add_argument("--precision", choices=PRECISIONS, action="append", default=None,
                   help="only this precision (repeatable; default both)")
    p.add_argument("--json", default=None, help="also write the measurements and settings to this JSON file")
    args = p.parse_args(argv)
    try:
        settings = Settings(steps=args.steps, warmup=args.warmup, batch_size=args.batch_size, tokens=args.tokens,
                            interval_s=args.interval, budget_s=args.budget,
                            precisions=tuple(args.precision or PRECISIONS))
    except MinionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # One GPU, the same for TensorFlow and NVML (CUDA's default order is not NVML's).
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")
    reason = no_gpu_reason()
    if reason:
        print(reason, flush=True)
        return 0

    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    from minion_tf.backbones import random_backbone

    config = EnergyConfig(interval_s=settings.interval_s)
    print(f"device check: {gpu_description()}; {settings.encoder} architecture, random weights; "
          f"batch {settings.batch_size} x {settings.tokens} tokens; {settings.warmup} warm-up + {settings.steps} "
          f"timed steps per row", flush=True)
    measurements = measure_all(settings, EnergySampler(config), TfMemory("GPU:0"),
                               lambda: random_backbone(settings.encoder), start=START)
    print(format_table(rows_from(measurements)))
    print(NOTES.format(steps=settings.steps, warmup=settings.warmup, batch=settings.batch_size, tokens=settings.tokens,
                       p0=config.p0_kw, interval=settings.interval_s))
    print(f"device check: {time.perf_counter() - START:.0f} s in all", flush=True)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"command": " ".join(sys.argv), "gpu": gpu_description(),
                                    "settings": asdict(settings), "measurements": measurements}, indent=1,
                                   default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
