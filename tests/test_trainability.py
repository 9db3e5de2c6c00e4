"""Which weights train in each fine-tuning method: exact counts, and BitFit leaves non-biases bit-identical."""
import numpy as np
import pytest
import tf_keras as keras
from transformers import BertConfig, RobertaConfig

from minion_tf.backbones import encoder_from_config, known_config_path, load_config
from minion_tf.errors import MinionError
from minion_tf.models.encoder_classifier import EncoderClassifier, build_classifier
from minion_tf.models.trainability import (bitfit, block_sizes, embeddings_only, encoder_only, expected_trainable,
                                           freeze_all_but_last_k, full_finetune, is_bias, parameter_count,
                                           restrict_optimizer)

TINY = dict(vocab_size=100, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=24,
            max_position_embeddings=40)


def _classifier(config_cls=BertConfig, num_labels=3):
    return build_classifier(EncoderClassifier(encoder_from_config(config_cls(**TINY)), num_labels=num_labels))


def test_block_sizes_match_the_built_tiny_bert():
    model = _classifier()
    main = model.encoder.bert
    b = block_sizes(model.encoder.config, num_labels=3)
    assert parameter_count(main.embeddings.weights) == b["embeddings"] == (100 + 40 + 2) * 16 + 32
    assert parameter_count(main.encoder.layer[0].weights) == b["layer"]
    assert parameter_count(main.pooler.weights) == b["pooler"]
    assert parameter_count(model.classifier.weights) == b["head"] == 16 * 3 + 3
    assert model.count_params() == b["embeddings"] + 3 * b["layer"] + b["pooler"] + b["head"]


@pytest.mark.parametrize("config_cls", [BertConfig, RobertaConfig])
@pytest.mark.parametrize("method,apply", [
    ("finetune", full_finetune), ("embeddings-only", embeddings_only), ("encoder-only", encoder_only),
    ("bitfit", bitfit)])
def test_counts_equal_the_formula(config_cls, method, apply):
    model = _classifier(config_cls)
    variables = apply(model)
    assert parameter_count(variables) == expected_trainable(method, model.encoder.config, num_labels=3)
    if method != "bitfit":        # keras' own trainable list is the update set
        assert parameter_count(model.trainable_weights) == parameter_count(variables)


def test_hand_formulas_for_the_tiny_config():
    config = BertConfig(**TINY)
    layer = 4 * 16 * 16 + 4 * 16 + 2 * 16 * 24 + 24 + 16 + 4 * 16          # = 1960
    head = 16 * 3 + 3
    assert expected_trainable("encoder-only", config, 3) == 3 * layer + head == 5931
    assert expected_trainable("bitfit", config, 3) == 16 + 3 * (7 * 16 + 24) + head == 475
    assert expected_trainable("prompt", config, 3, prompt_length=20) == 20 * 16 + head


def test_base_sized_counts_from_shipped_configs():
    bert = load_config("bert-base-uncased")
    # 109,482,240 = BERT-base with pooler; fine-tuning trains all but the 590,592 pooler weights
    assert expected_trainable("finetune", bert, 2) == 109_482_240 - 590_592 + 1538
    assert expected_trainable("freeze", bert, 2, k=4) == 4 * 7_087_872 + 1538
    assert expected_trainable("bitfit", bert, 2) == 768 + 12 * (7 * 768 + 3072) + 1538 == 103_682
    assert known_config_path("vinai/bertweet-base") is not None
    tweet = load_config("vinai/bertweet-base")
    # BERTweet: (64001 + 130 + 1) * 768 + 1536 embeddings; 134,899,968 with its pooler
    assert expected_trainable("embeddings-only", tweet, 2) == 64132 * 768 + 1536 + 1538
    assert expected_trainable("finetune", tweet, 2) + 590_592 - 1538 == 134_899_968


@pytest.mark.parametrize("k", [1, 2, 3])
def test_last_k_freezes_embeddings_and_first_layers(k):
    model = _classifier()
    variables = freeze_all_but_last_k(model, k)
    assert parameter_count(variables) == expected_trainable("freeze", model.encoder.config, 3, k=k)
    names = {v.name for v in variables}
    assert not any("embeddings" in n for n in names)
    assert {n.split("layer_._")[1].split("/")[0] for n in names if "layer_._" in n} == {str(i) for i in range(3 - k, 3)}


@pytest.mark.parametrize("k", [0, 4, 1.5])
def test_last_k_out_of_range_is_one_line(k):
    with pytest.raises(MinionError, match=r"--last-k must be an integer in 1\.\.3"):
        freeze_all_but_last_k(_classifier(), k)


def test_bitfit_moves_biases_and_leaves_every_other_weight_bit_identical():
    keras.utils.set_random_seed(0)
    model = _classifier(num_labels=2)
    variables = bitfit(model)
    model.compile(restrict_optimizer(keras.optimizers.Adam(1e-2), variables), "sparse_categorical_crossentropy")
    before = {v.name: v.numpy().copy() for v in model.encoder.weights}
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 100, (16, 6)).astype(np.int32)
    x = {"ids": ids, "mask": np.ones_like(ids)}
    model.fit(x, rng.integers(0, 2, 16), batch_size=8, epochs=2, verbose=0)
    after = {v.name: v.numpy() for v in model.encoder.weights}
    kept = {v.ref() for v in variables}
    for v in model.encoder.weights:
        if v.ref() in kept:
            assert is_bias(v) and not np.array_equal(before[v.name], after[v.name]), v.name
        else:
            assert np.array_equal(before[v.name], after[v.name]), v.name   # bit-identical
    assert len(model.optimizer.variables) == 1 + 2 * len(variables)       # iterations + Adam m, v per kept variable
