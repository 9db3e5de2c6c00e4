"""Where a run trains, on `tf.distribute`: one device, the local devices, or several workers.

- ``none``: TensorFlow's default strategy (one device).
- ``mirrored``: `tf.distribute.MirroredStrategy` over the local GPUs; on a machine without GPUs,
  over its logical CPU devices, which a program makes with `tf.config.set_logical_device_configuration`
  before TensorFlow initialises its devices (refused in one line when there are fewer than two).
- ``multiworker``: `tf.distribute.MultiWorkerMirroredStrategy`, configured by the `TF_CONFIG`
  environment variable as TensorFlow documents it (the cluster's workers and this process's task).
  Every worker runs the same command; the chief (task "chief", else worker 0) writes the run folder,
  the others work in a scratch folder of their own (`runs.runner`); with a shared `--cache-dir` they
  build the hidden-state cache together (`cache.build_cache(worker=...)`). A worker that stops answering
  makes the others fail within `MINION_WORKER_TIMEOUT` seconds (default 600) of waiting on it.

``--batch-size`` stays the global batch: each of N replicas computes its share of every batch,
and the learning rate is not rescaled.

Example:
    >>> strategy = make_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = build()                       # its variables are mirrored on every replica
"""
from __future__ import annotations

import json
import os
from functools import cache

from minion_tf.errors import MinionError

STRATEGIES = ("none", "mirrored", "multiworker")
LOST_WORKER = ("UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError")  # tf.errors


def check_strategy(name: str) -> None:
    if name not in STRATEGIES:
        raise MinionError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


def make_strategy(name: str):
    """The `tf.distribute` strategy `name` stands for (see the module docstring)."""
    import tensorflow as tf

    check_strategy(name)
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return _multiworker()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    if len(devices) < 2:
        raise MinionError(f"--strategy mirrored: one device here ({devices[0]}), nothing to mirror across; "
                          "drop the flag (a program can split the CPU with tf.config.set_logical_device_configuration)")
    # NCCL all-reduce is for GPUs; CPU replicas add up their gradients on one device
    return tf.distribute.MirroredStrategy(devices, None if gpus else tf.distribute.ReductionToOneDevice())


def worker_task() -> tuple[str, int, int]:
    """(task type, index, number of workers) from `TF_CONFIG`; one line when it is missing or malformed."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise MinionError("--strategy multiworker: TF_CONFIG is not set; set it on every worker to "
                          '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}')
    try:
        found = json.loads(text)
        cluster, task = found["cluster"], found["task"]
        kind, index = task["type"], int(task["index"])
        workers = sum(len(cluster.get(k, [])) for k in ("chief", "worker"))
        if kind not in ("chief", "worker") or not 0 <= index < len(cluster[kind]):
            raise ValueError(f"task {kind} {index} is not in the cluster")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise MinionError(f"--strategy multiworker: TF_CONFIG is not a cluster and a task ({err})") from None
    return kind, index, workers


def is_chief() -> bool:
    """Whether this process writes the run: task "chief", or worker 0 of a cluster without one."""
    return worker_position()[0] == 0


def worker_position() -> tuple[int, int]:
    """(this process's place among the workers, their number): the chief 0, the workers after it."""
    kind, index, workers = worker_task()
    has_chief = "chief" in json.loads(os.environ["TF_CONFIG"])["cluster"]
    return (0 if kind == "chief" else index + has_chief), workers


def worker_timeout() -> float:
    """Seconds a worker waits on the others (collectives, the shared cache build): `MINION_WORKER_TIMEOUT`,
    default 600."""
    return float(os.environ.get("MINION_WORKER_TIMEOUT", 600))


@cache  # TensorFlow allows one per process, made before its collectives run
def _multiworker():
    import tensorflow as tf

    worker_task()  # a missing or malformed TF_CONFIG is one line, not TensorFlow's traceback
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=worker_timeout())
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def sum_over_workers(strategy, values: dict) -> dict:
    """{name: the sum over every worker of its `values[name]`} (floats; NaN stays NaN).

    Every worker must call it at the same point: it is one all-reduce.
    """
    import tensorflow as tf

    local = len(strategy.extended.worker_devices)  # each worker's replicas share its figures
    vector = tf.constant([float(v) / local for v in values.values()], tf.float64)
    total = strategy.reduce("SUM", strategy.run(lambda: tf.identity(vector)), axis=None).numpy()
    return dict(zip(values, map(float, total)))


def lost_worker(error: BaseException) -> bool:
    """Whether `error` is how TensorFlow reports a worker that died or stopped answering."""
    return type(error).__name__ in LOST_WORKER and type(error).__module__.startswith("tensorflow")
