"""LoRA (Hu et al. 2021): a low-rank update `x @ A @ B * (alpha / rank)` added to a frozen Dense.

`LoRADense` wraps an existing (pretrained) Dense; `add_lora` puts one around the query and value
projections of every layer of a transformers TF BERT/RoBERTa encoder. A is random, B is zero, so
a wrapped encoder computes exactly what it did before until B moves. Neither sets trainability:
the method module gives its optimizer the adapters' variables (`LoRADense.adapter_weights`).

Example:
    >>> adapters = add_lora(backbone.encoder, rank=8, alpha=8.0)    # 2 per encoder layer
    >>> [w for a in adapters for w in a.adapter_weights]            # what trains (with a head)
"""
from __future__ import annotations

import contextlib

import tensorflow as tf
import tf_keras as keras

from minion_tf.errors import MinionError

#: A's initialiser: U(-1/sqrt(d_in), 1/sqrt(d_in)), i.e. PyTorch's `kaiming_uniform_(a=sqrt(5))`,
#: as in Hu et al.'s loralib and in peft (the paper's text says Gaussian; their code does this).
KAIMING_UNIFORM = {"class_name": "VarianceScaling",
                   "config": {"scale": 1 / 3, "mode": "fan_in", "distribution": "uniform"}}
TARGETS = ("query", "value")


@keras.saving.register_keras_serializable(package="minion_tf")
class LoRADense(keras.layers.Wrapper):
    """`layer(x) + x @ A @ B * (alpha / rank)`: a Dense with a rank-`rank` update and no adapter bias.

    `layer` is the Dense to adapt (built or not; its weights are left as they are). A is
    `(d_in, rank)` from `a_initializer` (default: `KAIMING_UNIFORM`), B is `(rank, units)` zeros,
    so the output equals `layer`'s exactly until B changes. The adapter's weights are named
    after the wrapped layer's (`.../query/lora_A`), so every one is unique in an encoder.

    Example:
        >>> lora = LoRADense(keras.layers.Dense(16), rank=4, alpha=8.0)
        >>> lora(tf.ones([2, 5, 32])).shape          # scaling 2.0; equals the Dense's output
        TensorShape([2, 5, 16])
    """

    def __init__(self, layer, rank: int = 8, alpha: float = 8.0, a_initializer=None, **kwargs):
        super().__init__(layer, **kwargs)
        if not isinstance(layer, keras.layers.Dense) or isinstance(layer, LoRADense):
            raise MinionError(f"LoRADense wraps a keras Dense layer, got {type(layer).__name__}")
        if isinstance(rank, bool) or not float(rank).is_integer() or rank < 1:
            raise MinionError(f"LoRADense: rank must be an integer >= 1, got {rank!r}")
        if not alpha > 0:
            raise MinionError(f"LoRADense: alpha must be > 0, got {alpha!r}")
        self.rank = int(rank)
        self.alpha = float(alpha)
        self.a_initializer = keras.initializers.get(a_initializer if a_initializer is not None
                                                    else dict(KAIMING_UNIFORM))

    @property
    def scaling(self) -> float:
        """alpha / rank, the factor of the update (Hu et al. 2021, section 4.1)."""
        return self.alpha / self.rank

    @property
    def adapter_weights(self) -> list:
        """[A, B]: the weights LoRA trains (the wrapped layer's kernel and bias are not among them)."""
        return [self.lora_a, self.lora_b]

    def build(self, input_shape):
        super().build(input_shape)  # builds the wrapped Dense if it is not yet
        kernel = self.layer.kernel
        scope = kernel.name.rpartition("/")[0]
        with tf.name_scope(scope + "/") if scope else contextlib.nullcontext():
            self.lora_a = self.add_weight("lora_A", shape=(kernel.shape[0], self.rank),
                                          initializer=self.a_initializer, dtype=kernel.dtype)
            self.lora_b = self.add_weight("lora_B", shape=(self.rank, kernel.shape[1]),
                                          initializer="zeros", dtype=kernel.dtype)

    def call(self, inputs):
        # Two 2-D matmuls on the flattened tokens: tf.einsum's "...i,ir->...r" made a MiniLM LoRA-8 train step
        # 1.9x slower (2.90 s against 1.52 s for a batch of 256 x 22, benchmarks/steps.py), slower than fine-tuning.
        shape = tf.shape(inputs)
        flat = tf.reshape(tf.cast(inputs, self.compute_dtype), [-1, shape[-1]])
        update = tf.matmul(tf.matmul(flat, self.lora_a), self.lora_b) * tf.cast(self.scaling, self.compute_dtype)
        return self.layer(inputs) + tf.reshape(update, tf.concat([shape[:-1], [-1]], 0))

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "rank": self.rank, "alpha": self.alpha,
                "a_initializer": keras.initializers.serialize(self.a_initializer)}


def add_lora(encoder, rank: int = 8, alpha: float = 8.0, targets: tuple[str, ...] = TARGETS) -> list[LoRADense]:
    """Wrap `targets` (query, value) of every self-attention of a transformers TF encoder in `LoRADense`.

    Works on BERT and RoBERTa-style encoders (`TFBertModel`, `TFRobertaModel`: the layers are
    `getattr(encoder, encoder.base_model_prefix).encoder.layer`). The encoder must be built (its
    pretrained weights loaded); it is changed in place, its own weights untouched, and the
    adapters are built at once, so they are in `encoder.weights`. Returns the adapters, layer by
    layer and in `targets` order.
    """
    main = getattr(encoder, getattr(encoder, "base_model_prefix", ""), None)
    layers = getattr(getattr(main, "encoder", None), "layer", None)
    if not layers:
        raise MinionError(f"LoRA: {type(encoder).__name__} is not a transformers TF BERT/RoBERTa encoder "
                          "(no <base_model_prefix>.encoder.layer)")
    adapters = []
    for i, block in enumerate(layers):
        attention = block.attention.self_attention
        for target in targets:
            base = getattr(attention, target, None)
            if isinstance(base, LoRADense):
                raise MinionError(f"LoRA: layer {i}'s {target} already has an adapter")
            if not isinstance(base, keras.layers.Dense) or not base.built:
                raise MinionError(f"LoRA: layer {i}'s {target} is not a built Dense (build the encoder first)")
            adapter = LoRADense(base, rank=rank, alpha=alpha, name=f"{target}_lora")
            adapter.build(tf.TensorShape([None, None, base.kernel.shape[0]]))
            setattr(attention, target, adapter)
            adapters.append(adapter)
    return adapters
