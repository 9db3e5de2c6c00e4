"""Where a run trains, on `tf.distribute`: one device, or the local devices.

- ``none``: TensorFlow's default strategy (one device).
- ``mirrored``: `tf.distribute.MirroredStrategy` over the local GPUs; on a machine without GPUs,
  over its logical CPU devices (one, unless the program made more with
  `tf.config.set_logical_device_configuration` before TensorFlow started).

``--batch-size`` stays the global batch: each of N replicas computes batch / N examples a step,
and the learning rate is not rescaled.

Several workers (`tf.distribute.MultiWorkerMirroredStrategy` from ``TF_CONFIG``) are not a strategy
here yet; `worker_role` reads the cluster (the ``chief`` task, or worker 0 when there is none, is
the chief) for what they will need: a run folder only the chief writes.

Example:
    >>> strategy = make_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = build()                       # its variables are mirrored on every replica
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from minion_tf.errors import MinionError

STRATEGIES = ("none", "mirrored")


def check_strategy(name: str) -> None:
    if name not in STRATEGIES:
        raise MinionError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


@dataclass(frozen=True)
class Role:
    """This process's task in the cluster: type, index, the number of training tasks, and whether it is the chief."""

    kind: str = "worker"
    index: int = 0
    workers: int = 1
    chief: bool = True


def worker_role() -> Role:
    """This process's `Role` from ``TF_CONFIG``; the only worker, and the chief, without it."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return Role()
    try:
        tf_config = json.loads(raw)
        cluster, task = tf_config["cluster"], tf_config["task"]
        kind, index = str(task["type"]), int(task["index"])
        workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise MinionError(f"TF_CONFIG: not a cluster and task as TensorFlow documents them "
                          f"({type(err).__name__}: {err})") from None
    if kind not in cluster or not 0 <= index < len(cluster[kind]):
        raise MinionError(f"TF_CONFIG: task {kind} {index} is not in its cluster ({', '.join(cluster)})")
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return Role(kind, index, workers, chief)


def make_strategy(name: str):
    """The `tf.distribute` strategy `name` stands for (see the module docstring)."""
    import tensorflow as tf

    check_strategy(name)
    if name == "none":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    # NCCL all-reduce is for GPUs; CPU replicas add up their gradients on one device
    return tf.distribute.MirroredStrategy(devices, None if gpus else tf.distribute.ReductionToOneDevice())
