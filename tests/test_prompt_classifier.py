"""Prompt tuning: exact trainable count, frozen encoder, position limit, save/load round trip."""
import numpy as np
import pytest
import tf_keras as keras
from formulas import expected_trainable
from layer_testing import check_model
from transformers import BertConfig, RobertaConfig

from minion_tf.backbones import encoder_from_config
from minion_tf.errors import MinionError
from minion_tf.models.prompt_classifier import PromptClassifier
from minion_tf.methods.base import parameter_count

TINY = dict(vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
            max_position_embeddings=40)


def _batch(seed=0, batch=4, length=6):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 100, (batch, length)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[0, 3:] = 0
    return {"ids": ids, "mask": mask}


@pytest.mark.parametrize("config_cls", [BertConfig, RobertaConfig])
def test_trainable_count_is_prompt_plus_head(config_cls):
    model = PromptClassifier(encoder_from_config(config_cls(**TINY)), prompt_length=5, max_length=20, num_labels=3)
    assert model(_batch()).shape == (4, 3)
    assert parameter_count(model.trainable_weights) == 5 * 16 + 16 * 3 + 3
    assert parameter_count(model.trainable_weights) == expected_trainable("prompt", model.encoder.config, 3, prompt_length=5)


def test_prompt_changes_the_output_and_padding_does_not():
    model = PromptClassifier(encoder_from_config(BertConfig(**TINY)), prompt_length=4, max_length=20)
    x = _batch()
    out = model(x).numpy()
    padded = {"ids": np.pad(x["ids"], ((0, 0), (0, 3))), "mask": np.pad(x["mask"], ((0, 0), (0, 3)))}
    np.testing.assert_allclose(model(padded).numpy(), out, atol=1e-5)
    model.prompt.assign(np.random.default_rng(1).normal(size=model.prompt.shape))   # not a shift: LayerNorm removes those
    assert not np.allclose(model(x).numpy(), out, atol=1e-5)


def test_fit_moves_the_prompt_and_leaves_the_encoder_bit_identical():
    keras.utils.set_random_seed(0)
    model = PromptClassifier(encoder_from_config(BertConfig(**TINY)), prompt_length=3, max_length=20)
    encoder_before = [w.copy() for w in model.encoder.get_weights()]
    prompt_before = model.prompt.numpy().copy()
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(_batch(batch=8), np.array([0, 1] * 4), batch_size=4, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(encoder_before, model.encoder.get_weights()))
    assert not np.allclose(prompt_before, model.prompt.numpy())


def test_too_long_prompt_is_one_line():
    with pytest.raises(MinionError, match=r"prompt length 20 \+ max length 24 exceeds the encoder's 40 positions"):
        PromptClassifier(encoder_from_config(BertConfig(**TINY)), prompt_length=20, max_length=24)
    roberta = encoder_from_config(RobertaConfig(**TINY))     # RoBERTa keeps 2 positions for its offset
    with pytest.raises(MinionError, match=r"exceeds the encoder's 38 positions"):
        PromptClassifier(roberta, prompt_length=20, max_length=19)


@pytest.mark.parametrize("config_cls, pooling", [(BertConfig, "cls"), (RobertaConfig, "mean")])
def test_prompt_classifier_passes_the_model_checks(config_cls, pooling):
    """`.keras` and the `save_weights` file a run writes; trainable: the prompt and the head."""
    assert keras.saving.get_registered_object("minion_tf>PromptClassifier") is PromptClassifier
    config = config_cls(**TINY)
    check_model(lambda: PromptClassifier(encoder_from_config(config), prompt_length=3, max_length=20, num_labels=3,
                                         pooling=pooling), _batch(), save=("keras", "weights"),
                expected_trainable=expected_trainable("prompt", config, 3, prompt_length=3))
