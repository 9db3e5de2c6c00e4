"""A run's numeric precision: float32, or mixed precision with bfloat16 or float16 compute.

Mixed precision keeps every weight in float32 and computes in the lower type (Keras' policies
"mixed_bfloat16" and "mixed_float16"; losses and outputs stay float32, and float16 gets loss
scaling). bfloat16 is for CPUs with native bf16 arithmetic (AVX512_BF16 / AMX) and recent GPUs,
float16 for GPUs. The policy is Keras' global one: `precision_policy` sets it only while a run
builds its models, then restores the caller's.

Example:
    >>> with precision_policy("bfloat16"):
    ...     backbone = load_backbone()          # its layers compute in bfloat16
"""
from __future__ import annotations

import contextlib

from minion_tf.errors import MinionError

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
POLICY_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}  # each one's compute dtype


def check_precision(precision: str) -> None:
    if precision not in POLICIES:
        raise MinionError(f"--precision must be one of {', '.join(POLICIES)}, got {precision!r}")


@contextlib.contextmanager
def precision_policy(precision: str):
    """Keras' global dtype policy for `precision` inside the block; the previous one after it."""
    import tf_keras as keras

    check_precision(precision)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
