"""Full fine-tuning: the encoder really trains (tf_keras, not Keras 3), saves, reloads and resumes."""
import json

import numpy as np
import pytest

from minion_tf.runs.config import RunConfig


def small(tiny_encoder_dir, tweet_dir, out, **kw):
    base = dict(model="finetune", epochs=2, batch_size=32, encoder=str(tiny_encoder_dir), data=str(tweet_dir),
                max_examples=300, max_length=16, out=str(out), lr=1e-3)
    return RunConfig(**{**base, **kw})


def test_one_fit_step_changes_the_encoder_weights_and_the_model_is_tf_keras(tiny_encoder_dir):
    import tf_keras

    from minion_tf.backbones import load_backbone
    from minion_tf.models.encoder_classifier import EncoderClassifier, build_classifier

    assert tf_keras.__version__.startswith("2.")  # the package's Keras, whatever tf.keras is
    backbone = load_backbone(str(tiny_encoder_dir), trainable=True)
    model = build_classifier(EncoderClassifier(backbone.encoder, num_labels=3))
    assert isinstance(model, tf_keras.Model) and isinstance(backbone.encoder, tf_keras.layers.Layer)
    encoder_ids = {id(v) for v in backbone.encoder.trainable_variables}
    assert encoder_ids <= {id(v) for v in model.trainable_variables}  # the optimizer will see them
    pooler = {v.name for v in backbone.encoder.non_trainable_variables}
    assert pooler and all("pooler" in name for name in pooler)  # unused by the head: frozen

    watched = [v for v in backbone.encoder.trainable_variables
               if any(k in v.name for k in ("word_embeddings", "layer_._0/attention/self/query/kernel",
                                            "layer_._1/output/dense/kernel"))]
    assert len(watched) == 3
    before = [v.numpy().copy() for v in watched]
    model.compile(tf_keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    ids, mask = backbone.batch(["good day", "bad day today", "fine"], max_length=8)
    model.fit({"ids": ids, "mask": mask}, np.array([0, 1, 2]), epochs=1, verbose=0)
    for var, old in zip(watched, before):
        assert not np.allclose(var.numpy(), old), var.name
    assert model({"ids": ids, "mask": mask}).shape == (3, 3)


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_encoder_classifier_passes_the_model_checks(tiny_backbone, kind):
    """Its config holds the encoder's, `from_config` builds a random encoder, and a real `.keras`
    file holds every weight: the reloaded model gives the same probabilities."""
    from formulas import expected_trainable
    from layer_testing import check_model
    from transformers import RobertaConfig

    from minion_tf.backbones import encoder_from_config
    from minion_tf.models.encoder_classifier import EncoderClassifier

    rng = np.random.default_rng(0)
    if kind == "bert":  # the conftest tiny BERT's config; a pair: token types after [SEP] (102)
        config, options, ids = tiny_backbone.config, dict(pooling="cls", sep_id=102), rng.integers(1000, 2000, (4, 7))
        ids[:, 3] = 102
    else:  # RoBERTa (BERTweet's architecture): ids clear of its padding id 1
        config = RobertaConfig(vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=24, max_position_embeddings=40)
        options, ids = dict(pooling="mean"), rng.integers(5, 100, (4, 7))
    mask = np.ones_like(ids)
    mask[0, 4:] = 0
    model = check_model(lambda: EncoderClassifier(encoder_from_config(config), num_labels=3, dropout=0.2, **options),
                        {"ids": ids.astype(np.int32), "mask": mask.astype(np.int32)},
                        expected_trainable=expected_trainable("finetune", config, num_labels=3))
    assert (model.num_labels, model.dropout, model.pooling) == (3, 0.2, options["pooling"])


def test_bad_classifier_arguments_are_refused(tiny_backbone):
    from minion_tf.errors import MinionError
    from minion_tf.models.encoder_classifier import EncoderClassifier

    with pytest.raises(MinionError, match="pooling must be one of mean, cls"):
        EncoderClassifier(tiny_backbone.encoder, pooling="max")
    with pytest.raises(MinionError, match="num_labels must be an integer >= 1"):
        EncoderClassifier(tiny_backbone.encoder, num_labels=0)


@pytest.fixture(scope="module")
def straight_run(tiny_encoder_dir, tweet_dir, tmp_path_factory):
    """One uninterrupted `small` fine-tuning run (2 epochs), trained once for the tests that only
    read it: (its config, its record)."""
    from minion_tf.runs.runner import run

    config = small(tiny_encoder_dir, tweet_dir, tmp_path_factory.mktemp("straight"))
    return config, run(config)


def test_finetune_run_records_like_a_side_model_and_reloads_with_identical_predictions(
        straight_run, tiny_encoder_dir):
    from minion_tf.methods.finetune import FineTune
    from minion_tf.runs.tweet_data import load_splits

    config, record = straight_run
    run_dir = config.run_dir()
    assert run_dir.name.startswith("finetune-lr0.001-s0-")
    assert len(record["epochs"]) == 2
    assert {"loss", "val_accuracy", "val_ace", "val_mce", "energy_kwh", "rss_peak_gib"} <= set(record["epochs"][0])
    encoder_params = 0
    from minion_tf.backbones import load_backbone

    encoder_params = load_backbone(str(tiny_encoder_dir)).encoder.count_params()
    assert record["params"]["trainable"] > 0.9 * encoder_params  # the encoder trains, not just a head
    for name in ("trained.npz", "trained_model.json", "run.json", "test_probs.npy", "reliability.png"):
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.glob("*.tmp*"))
    texts, _ = load_splits(config)["test"]
    probs = FineTune.load_predictor(run_dir)(texts)
    np.testing.assert_allclose(probs, np.load(run_dir / "test_probs.npy"), atol=1e-5)
    assert json.loads((run_dir / "run.json").read_text())["prepared"]


def test_interrupted_finetune_resumes_after_its_last_epoch(straight_run, tiny_encoder_dir, tweet_dir, tmp_path,
                                                          cut_after_first_epoch):
    from minion_tf.runs.runner import run

    _, straight = straight_run  # the same config in another --out
    config = small(tiny_encoder_dir, tweet_dir, tmp_path / "b")
    cut_after_first_epoch(config)
    resumed = run(config)
    assert len(resumed["epochs"]) == 2
    assert resumed["epochs"][0]["loss"] == pytest.approx(straight["epochs"][0]["loss"], rel=1e-5)
    # Epoch 2 starts from epoch 1's weights, not from scratch; dropout masks (an RNG state that is
    # not checkpointed) make it differ slightly from the uninterrupted run's epoch 2.
    assert resumed["epochs"][1]["loss"] < 0.8 * straight["epochs"][0]["loss"]
    assert resumed["epochs"][1]["loss"] == pytest.approx(straight["epochs"][1]["loss"], rel=0.2)
