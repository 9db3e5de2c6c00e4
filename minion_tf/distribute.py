"""Where a run trains, on `tf.distribute`: one device, or the local devices.

- ``none``: TensorFlow's default strategy (one device).
- ``mirrored``: `tf.distribute.MirroredStrategy` over the local GPUs; on a machine without GPUs,
  over its logical CPU devices, which a program makes with `tf.config.set_logical_device_configuration`
  before TensorFlow initialises its devices (refused in one line when there are fewer than two).

``--batch-size`` stays the global batch: each of N replicas computes its share of every batch,
and the learning rate is not rescaled. Several workers (`MultiWorkerMirroredStrategy`) are not
supported yet.

Example:
    >>> strategy = make_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = build()                       # its variables are mirrored on every replica
"""
from __future__ import annotations

from minion_tf.errors import MinionError

STRATEGIES = ("none", "mirrored")


def check_strategy(name: str) -> None:
    if name not in STRATEGIES:
        raise MinionError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


def make_strategy(name: str):
    """The `tf.distribute` strategy `name` stands for (see the module docstring)."""
    import tensorflow as tf

    check_strategy(name)
    if name == "none":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    if len(devices) < 2:
        raise MinionError(f"--strategy mirrored: one device here ({devices[0]}), nothing to mirror across; "
                          "drop the flag (a program can split the CPU with tf.config.set_logical_device_configuration)")
    # NCCL all-reduce is for GPUs; CPU replicas add up their gradients on one device
    return tf.distribute.MirroredStrategy(devices, None if gpus else tf.distribute.ReductionToOneDevice())
