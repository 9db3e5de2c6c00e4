"""Heads and the transformer block: config round trip, save/load with equal outputs, masking, formulas."""
import numpy as np
import pytest
import tensorflow as tf
from layer_testing import check_layer

from minion_tf.errors import MinionError
from minion_tf.layers.cosine_similarity_head import CosineSimilarityHead
from minion_tf.layers.task_head import TaskHead
from minion_tf.layers.transformer_block import TransformerBlock

D, T = 16, 5


def _pair_inputs(batch=3):
    rng = np.random.default_rng(0)
    mask_a = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]][:batch], np.int32)
    return {"sequence_a": rng.normal(size=(batch, T, D)).astype(np.float32), "mask_a": mask_a,
            "sequence_b": rng.normal(size=(batch, T, D)).astype(np.float32), "mask_b": mask_a[::-1].copy()}


def _single_inputs(batch=3):
    pair = _pair_inputs(batch)
    return {"sequence": pair["sequence_a"], "mask": pair["mask_a"],
            "pooled": np.random.default_rng(1).normal(size=(batch, D)).astype(np.float32)}


FFN = 12
BLOCK_PARAMS = 4 * (D * D + D) + 2 * 2 * D + (D * FFN + FFN) + (FFN * D + D)  # Q K V O, 2 LayerNorms, FFN


def test_transformer_block_passes_the_layer_checks():
    x = _single_inputs()
    check_layer(lambda: TransformerBlock(num_heads=2, ffn_dim=FFN, name="block"),
                {"sequence": x["sequence"], "mask": x["mask"]},
                call=lambda layer, x: layer(x["sequence"], mask=x["mask"]), expected_trainable=BLOCK_PARAMS)


@pytest.mark.parametrize("make, example, expected_trainable", [
    (lambda: TaskHead(5, hidden_units=8, num_heads=2, ffn_dim=FFN, pooling="mean"), _single_inputs,
     BLOCK_PARAMS + (2 * D * 8 + 8) + (8 * 5 + 5)),
    (lambda: TaskHead(1, hidden_units=8, num_heads=2, ffn_dim=FFN, pooling="cls"), _single_inputs,
     BLOCK_PARAMS + (2 * D * 8 + 8) + (8 + 1)),
    (lambda: CosineSimilarityHead("cosine", num_heads=2, ffn_dim=FFN), _pair_inputs, BLOCK_PARAMS),
    (lambda: CosineSimilarityHead("uvcos", hidden_units=8, num_heads=2, ffn_dim=FFN, pooling="cls"), _pair_inputs,
     BLOCK_PARAMS + ((2 * D + 1) * 8 + 8) + (8 + 1)),
], ids=["task-mean", "task-cls", "cosine", "uvcos-cls"])
def test_head_passes_the_layer_checks(make, example, expected_trainable):
    check_layer(make, example(), expected_trainable=expected_trainable)


def test_block_ignores_padding_values():
    block = TransformerBlock(num_heads=2, ffn_dim=12)
    x = np.random.default_rng(0).normal(size=(1, T, D)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0]], np.int32)
    y = x.copy()
    y[:, 3:] = 1e3
    a, b = block(x, mask=mask).numpy(), block(y, mask=mask).numpy()
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-5, atol=1e-5)


def test_cosine_head_formula():
    head = CosineSimilarityHead("cosine", num_heads=2, ffn_dim=12)
    x = _pair_inputs()
    out = head(x, training=False).numpy()[:, 0]
    u = head.embed(x["sequence_a"], x["mask_a"]).numpy()
    v = head.embed(x["sequence_b"], x["mask_b"]).numpy()
    cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    np.testing.assert_allclose(out, 5.0 / (1.0 + np.exp(-20.0 * cos)), rtol=1e-5)


def test_uvcos_head_has_2d_plus_1_features():
    head = CosineSimilarityHead("uvcos", hidden_units=8, num_heads=2, ffn_dim=12)
    head(_pair_inputs())
    assert head.dense.kernel.shape == (2 * D + 1, 8)


def test_task_head_concatenates_pooled_output():
    head = TaskHead(5, hidden_units=8, num_heads=2, ffn_dim=12)
    head(_single_inputs())
    assert head.dense.kernel.shape == (2 * D, 8)


def test_bad_arguments_are_refused_with_the_package_error():
    assert issubclass(MinionError, ValueError)  # Keras users catching ValueError still do
    with pytest.raises(MinionError, match="pooling must be one of"):
        TaskHead(5, pooling="max")
    with pytest.raises(MinionError, match="mode must be one of"):
        CosineSimilarityHead("dot")
    with pytest.raises(MinionError, match="pooling must be one of"):
        CosineSimilarityHead("cosine", pooling="max")
    with pytest.raises(MinionError, match="not divisible"):
        TransformerBlock(num_heads=3)(tf.ones((1, 2, 16)))
