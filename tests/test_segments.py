"""Sentence pairs reach BERT-style encoders with segment ids; single texts encode as before."""
import numpy as np
import pytest
import tensorflow as tf

from minion_tf.backbones import Backbone, segment_ids

PAIRS = (["the cat sat on the mat", "a short one"], ["a cat was sitting on a mat", "and its much longer partner text"])


def test_segment_ids_start_after_the_first_separator():
    ids = tf.constant([[101, 7, 8, 102, 9, 102, 0], [101, 7, 102, 0, 0, 0, 0]])
    np.testing.assert_array_equal(segment_ids(ids, 102).numpy(),
                                  [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]])


def test_segment_ids_equal_the_tokenizers_own_type_ids(tiny_backbone):
    ids, _ = tiny_backbone.batch(PAIRS[0], 32, pairs=PAIRS[1])
    expected = [e.type_ids for e in tiny_backbone.tokenizer.backend.encode_batch(list(zip(*PAIRS)))]
    got = segment_ids(tf.constant(ids), tiny_backbone.segment_sep_id).numpy()
    for row, types in enumerate(expected):
        np.testing.assert_array_equal(got[row, :len(types)], types)


def test_pair_states_use_segment_ids_and_single_texts_are_unchanged(tiny_backbone):
    encoder = tiny_backbone.encoder
    ids, mask = tiny_backbone.batch(PAIRS[0], 32, pairs=PAIRS[1])
    types = np.zeros_like(ids)
    for row, e in enumerate(tiny_backbone.tokenizer.backend.encode_batch(list(zip(*PAIRS)))):
        types[row, :len(e.type_ids)] = e.type_ids
    reference = encoder(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
    states = tiny_backbone.hidden_states(ids, mask).numpy().transpose(0, 2, 1, 3)  # (B, T, S, d)
    real = mask.astype(bool)  # padding differs (type 1 here, 0 in the reference) and is never used
    np.testing.assert_allclose(states[real], np.stack(reference.hidden_states, axis=2)[real], atol=1e-5)
    flat = encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1].numpy()
    assert np.abs(flat[real] - states[:, :, -1][real]).max() > 1e-3  # the segments make a difference

    ids, mask = tiny_backbone.batch(["one", "a much longer single text than the first"], 32)
    plain = encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1].numpy()
    real = mask.astype(bool)
    np.testing.assert_allclose(tiny_backbone.hidden_states(ids, mask).numpy()[:, -1][real], plain[real], atol=1e-6)


def test_roberta_style_encoders_get_no_segments(tiny_backbone):
    from transformers import RobertaConfig

    config = RobertaConfig(type_vocab_size=1)
    assert Backbone(name="r", encoder=None, tokenizer=tiny_backbone.tokenizer, config=config).segment_sep_id is None
    assert tiny_backbone.segment_sep_id == 102


@pytest.mark.parametrize("kind", ["encoder", "prompt"])
def test_classifiers_pass_segments_for_pairs_only(tiny_backbone, kind):
    from minion_tf.models.encoder_classifier import EncoderClassifier
    from minion_tf.models.prompt_classifier import PromptClassifier

    def make(sep_id):
        tf.random.set_seed(0)
        if kind == "encoder":
            return EncoderClassifier(tiny_backbone.encoder, 2, dropout=0.0, sep_id=sep_id)
        return PromptClassifier(tiny_backbone.encoder, prompt_length=3, max_length=32, sep_id=sep_id)

    with_segments, without = make(102), make(None)
    pair = dict(zip(("ids", "mask"), tiny_backbone.batch(PAIRS[0], 32, pairs=PAIRS[1])))
    single = dict(zip(("ids", "mask"), tiny_backbone.batch(PAIRS[0], 32)))
    with_segments(single), without(single)
    without.set_weights(with_segments.get_weights())
    np.testing.assert_allclose(with_segments(single).numpy(), without(single).numpy(), atol=1e-6)
    assert np.abs(with_segments(pair).numpy() - without(pair).numpy()).max() > 1e-6
