"""The multi-task model, its losses and steps on a tiny random BERT: CFIMDB mapping, token types,
top-k updates, loss weights, KL consistency, metrics."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from formulas import block_sizes
from layer_testing import check_model

from minion_tf.data.minbert import MinbertSplit
from minion_tf.multitask.model import MultitaskBert, build_multitask, cfimdb_logits
from minion_tf.multitask.batches import TaskFeatures, token_types
from minion_tf.multitask.loop import MultitaskLossConfig, MultitaskTrainer, evaluate
from minion_tf.multitask.topk import select_top_fraction

SENTENCES = ["a fine film", "dull and long", "what a mess", "the best movie this year", "not bad", "ok"]


def test_cfimdb_mapping_on_known_logits():
    logits = tf.constant([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 7.0, 0.0, 0.0], [5.0, 1.0, 0.0, -1.0, -2.0]])
    np.testing.assert_array_equal(cfimdb_logits(logits).numpy(), [[6.0, 12.0], [7.0, 7.0], [6.0, -3.0]])


def test_token_types_after_first_separator():
    seq = np.array([101, 7, 8, 102, 9, 102])
    np.testing.assert_array_equal(token_types([seq], 102)[0], [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(token_types([seq], None)[0], [0] * 6)


@pytest.fixture(scope="module")
def tiny(tiny_backbone):
    """A trainable tiny encoder without dropout, and features of every task."""
    from minion_tf.backbones import Backbone, encoder_from_config

    config = tiny_backbone.config.__class__(**{**tiny_backbone.config.to_dict(), "hidden_dropout_prob": 0.0,
                                               "attention_probs_dropout_prob": 0.0})
    encoder = encoder_from_config(config)
    backbone = Backbone("tiny", encoder, tiny_backbone.tokenizer, config)
    n = len(SENTENCES)
    ids = [str(i) for i in range(n)]
    splits = {"sst": MinbertSplit("sst", ids, SENTENCES, None, np.arange(n) % 5),
              "para": MinbertSplit("quora", ids, SENTENCES, SENTENCES[::-1], np.arange(n) % 2),
              "sts": MinbertSplit("sts", ids, SENTENCES, SENTENCES[1:] + SENTENCES[:1],
                                  np.linspace(0, 5, n).astype(np.float32)),
              "cfimdb": MinbertSplit("cfimdb", ids, SENTENCES, None, np.arange(n) % 2)}
    feats = {t: TaskFeatures.from_split(backbone, s, 16, separate=True) for t, s in splits.items()}
    return backbone, feats


def _model(backbone, sts_head="mlp"):
    return build_multitask(MultitaskBert(backbone.encoder, sts_head=sts_head, head_dropout=0.0))


def _head_params(config, sts_head):
    """Trainable scalars of the three heads: each a transformer block (+ Dense, GELU, projection)."""
    d, ffn = int(config.hidden_size), int(config.intermediate_size)
    block = 4 * (d * d + d) + 2 * 2 * d + (d * ffn + ffn) + (ffn * d + d)  # Q K V O, 2 LayerNorms, FFN
    task = lambda outputs: block + (2 * d * d + d) + (d * outputs + outputs)  # noqa: E731  [pooled; cls] -> d
    sts = {"mlp": task(1), "cosine": block, "uvcos": block + ((2 * d + 1) * d + d) + (d + 1)}[sts_head]
    return task(5) + task(1) + sts


@pytest.mark.parametrize("sts_head", ["mlp", "cosine", "uvcos"])
def test_multitask_model_passes_the_model_checks(tiny_backbone, sts_head):
    """A real `.keras` round trip: the encoder's config in `get_config`, every weight in the file."""
    from minion_tf.backbones import encoder_from_config

    config = tiny_backbone.config.__class__(**{**tiny_backbone.config.to_dict(), "vocab_size": 100,
                                               "max_position_embeddings": 16})
    rng = np.random.default_rng(0)
    ids = {key: rng.integers(5, 100, (3, 5)).astype(np.int32) for key in ("ids", "ids_a", "ids_b")}
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], np.int32)
    feats = {**ids, "mask": mask, "mask_a": mask, "mask_b": mask[::-1].copy(),
             "types": ((np.arange(5) > 2) * mask).astype(np.int32)}
    sizes = block_sizes(config, num_labels=1)
    encoder_params = sizes["embeddings"] + sizes["layers"] * sizes["layer"] + sizes["pooler"]  # the heads use the pooler
    model = check_model(lambda: MultitaskBert(encoder_from_config(config), sts_head=sts_head, pooling="cls",
                                              head_dropout=0.2, name="minbert"), feats,
                        expected_trainable=encoder_params + _head_params(config, sts_head))
    assert (model.sts_mode, model.pooling, model.head_dropout, model.name) == (sts_head, "cls", 0.2, "minbert")


def _batches(feats, tasks=("sst", "para", "sts")):
    return {t: feats[t].batch(np.arange(len(feats[t]))) for t in tasks}


@pytest.mark.parametrize("sts_head", ["mlp", "cosine", "uvcos"])
def test_task_outputs(tiny, sts_head):
    backbone, feats = tiny
    model = _model(backbone, sts_head)
    batches = _batches(feats, ("sst", "para", "sts", "cfimdb"))
    n = len(SENTENCES)
    shapes = {t: tuple(model.task_output(t, batches[t], training=False).shape) for t in batches}
    assert shapes == {"sst": (n, 5), "para": (n,), "sts": (n,), "cfimdb": (n, 2)}
    sst = model.task_output("sst", batches["cfimdb"], training=False)
    np.testing.assert_allclose(model.task_output("cfimdb", batches["cfimdb"], training=False).numpy(),
                               cfimdb_logits(sst).numpy(), rtol=1e-6)
    metrics = evaluate(model, {t: feats[t] for t in ("sst", "para", "sts")})
    assert metrics["score"] == pytest.approx(
        (metrics["sst_accuracy"] + metrics["para_accuracy"] + (metrics["sts_pearson"] + 1) / 2) / 3, nan_ok=True)


def test_sst_weight_and_reduction(tiny):
    backbone, feats = tiny
    model = _model(backbone)
    batches = _batches(feats)
    logits = model.task_output("sst", batches["sst"], training=False).numpy()
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -log_probs[np.arange(len(SENTENCES)), batches["sst"]["labels"]].mean()
    trainer = MultitaskTrainer(model, keras.optimizers.Adam(1e-3), MultitaskLossConfig("sum", sst_loss_weight=2.5))
    losses = trainer.step_losses(batches, training=False)
    assert float(losses["sst"]) == pytest.approx(2.5 * ce, rel=1e-5)
    assert float(trainer.combine(losses)) == pytest.approx(sum(float(v) for v in losses.values()), rel=1e-6)
    trainer = MultitaskTrainer(model, keras.optimizers.Adam(1e-3), MultitaskLossConfig("mean"))
    losses = trainer.step_losses(batches, training=False)
    assert float(trainer.combine(losses)) == pytest.approx(sum(float(v) for v in losses.values()) / 3, rel=1e-6)


def test_kl_consistency_is_zero_on_identical_sentences(tiny):
    backbone, feats = tiny
    model = _model(backbone)
    trainer = MultitaskTrainer(model, keras.optimizers.Adam(1e-3), MultitaskLossConfig(kl_weight=1.0))
    same = dict(feats["sts"].batch(np.arange(len(SENTENCES))))
    same["ids_b"], same["mask_b"] = same["ids_a"], same["mask_a"]
    keep = tf.ones(len(SENTENCES), tf.bool)
    assert float(trainer.consistency(same, keep)) == pytest.approx(0.0, abs=1e-7)
    different = feats["sts"].batch(np.arange(len(SENTENCES)))
    assert float(trainer.consistency(different, keep)) > 0.0
    assert float(trainer.consistency(different, tf.zeros(len(SENTENCES), tf.bool))) == 0.0


def test_topk_mask_count_equals_fraction():
    rng = np.random.default_rng(0)
    scores = [rng.random((7, 3)), rng.random(11), np.ones(5)]
    total = 21 + 11 + 5
    for fraction in (0.1, 0.25, 0.5, 0.9):
        masks = select_top_fraction(scores, fraction)
        assert sum(int(m.sum()) for m in masks) == round(fraction * total)
        chosen = np.concatenate([s.ravel()[m.ravel()] for s, m in zip(scores, masks)])
        left = np.concatenate([s.ravel()[~m.ravel()] for s, m in zip(scores, masks)])
        assert chosen.min() >= left.max()
    ties = select_top_fraction([np.zeros(10)], 0.3)
    assert int(ties[0].sum()) == 3


def test_unselected_weights_stay_bit_identical_after_gse_steps(tiny):
    backbone, feats = tiny
    model = _model(backbone)
    shared = model.encoder.trainable_variables
    rng = np.random.default_rng(1)
    masks = select_top_fraction([rng.random(v.shape) for v in shared], 0.3)
    trainer = MultitaskTrainer(model, keras.optimizers.Adam(1e-2), MultitaskLossConfig(gse=True), masks=masks)
    before = [v.numpy().copy() for v in shared]
    heads_before = [v.numpy().copy() for v in trainer.head_vars]
    losses = trainer.train_step(_batches(feats), rng)
    assert np.isfinite(losses["loss"])
    moved = 0
    for old, var, mask in zip(before, shared, masks):
        new = var.numpy()
        assert np.array_equal(new[~mask], old[~mask])
        moved += int((new[mask] != old[mask]).sum())
    assert moved > 0
    assert any(not np.array_equal(v.numpy(), h) for v, h in zip(trainer.head_vars, heads_before))


def test_checkpoint_round_trip_gives_equal_outputs(tiny, tmp_path):
    from minion_tf.backbones import encoder_from_config

    backbone, feats = tiny
    model = _model(backbone, "uvcos")
    batches = _batches(feats)
    expected = {t: model.task_output(t, batches[t], training=False).numpy() for t in batches}
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    fresh_backbone = type(backbone)("tiny", encoder_from_config(backbone.config), backbone.tokenizer, backbone.config)
    fresh = _model(fresh_backbone, "uvcos")
    assert not np.allclose(fresh.task_output("sst", batches["sst"], training=False).numpy(), expected["sst"])
    tf.train.Checkpoint(model=fresh).read(path).assert_consumed()
    for t in batches:
        np.testing.assert_allclose(fresh.task_output(t, batches[t], training=False).numpy(), expected[t], rtol=1e-5)
