"""The side-tuning model: parameter counts (paper Table I), padding, save/load, learning."""
import numpy as np
import pytest
import tf_keras as keras
from layer_testing import check_model

from minion_tf.errors import MinionError
from minion_tf.models.side_tuning import SIDE_NETWORKS, SideTuningConfig, build_side_model

BERTWEET_ENCODER_PARAMS = 134_899_968  # vinai/bertweet-base, counted by the backbone tests
NUM_STATES, DIM = 3, 6


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "side, hidden, params, percent",
    [
        ("read", 8, 45_794, "0.03"),
        ("read", 64, 371_714, "0.27"),
        ("read", 256, 1_774_850, "1.30"),
        ("minion", 8, 28_146, "0.02"),
        ("minion", 64, 273_538, "0.20"),
        ("minion", 256, 1_971_970, "1.44"),
    ],
)
def test_parameter_counts_match_paper_table_1(side, hidden, params, percent):
    model = build_side_model(side, hidden, num_states=13, model_dim=768, num_labels=2)
    assert trainable_count(model) == params
    assert not model.non_trainable_weights
    assert f"{100 * params / (params + BERTWEET_ENCODER_PARAMS):.2f}" == percent


def test_unknown_side_and_bad_sizes_are_user_errors():
    with pytest.raises(MinionError, match="known: minion, read"):
        build_side_model("lstm", 8, NUM_STATES, DIM)
    with pytest.raises(MinionError, match="hidden"):
        build_side_model("read", 0, NUM_STATES, DIM)
    with pytest.raises(MinionError, match="num_labels"):
        SideTuningConfig("minion", 8, NUM_STATES, DIM, num_labels=0)
    assert set(SIDE_NETWORKS) == {"read", "minion"}


def batch(pad_to, seed, lengths=(5, 2, 0, 7)):
    """Right-padded states/mask; real tokens are the same for every `pad_to`, padding is garbage."""
    real = np.random.default_rng(0).normal(size=(len(lengths), NUM_STATES, 7, DIM))
    shape = (len(lengths), NUM_STATES, pad_to, DIM)
    states = np.random.default_rng(seed).normal(scale=1e3, size=shape)
    for row, length in enumerate(lengths):
        states[row, :, :length] = real[row, :, :length]
    mask = np.arange(pad_to)[None, :] < np.array(lengths)[:, None]
    return {"states": states.astype("float32"), "mask": mask.astype("int32")}


@pytest.mark.parametrize("side", ["read", "minion"])
def test_model_outputs_do_not_depend_on_padding(side):
    model = build_side_model(side, 4, NUM_STATES, DIM, num_labels=3)
    short = model(batch(7, seed=1)).numpy()
    np.testing.assert_allclose(short, model(batch(12, seed=2)).numpy(), atol=1e-6)
    assert short.shape == (4, 3) and np.all(np.isfinite(short))  # an empty row (length 0) too
    np.testing.assert_allclose(short.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("side", ["read", "minion"])
def test_side_model_passes_the_model_checks(side):
    """`.keras` and the `save_weights` file runs write; the count: the side network and the head."""
    side_params = build_side_model(side, 4, NUM_STATES, DIM).get_layer(side).count_params()
    model = check_model(lambda: build_side_model(side, 4, NUM_STATES, DIM, num_labels=3, name="tuned"),
                        batch(7, seed=1), save=("keras", "weights"), expected_trainable=side_params + DIM * 3 + 3)
    assert model.name == "tuned" and not model.non_trainable_weights


@pytest.mark.parametrize("side", ["read", "minion"])
def test_tiny_side_model_learns_a_label_hidden_in_phi_0(side):
    """The label is only in the direction of phi_0, so the side network has to carry it."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, tokens = 512, 6
    labels = rng.integers(0, 2, size=n)
    states = rng.normal(size=(n, NUM_STATES, tokens, DIM)).astype("float32")
    direction = np.eye(DIM)[0]
    states[:, 0] += ((2 * labels - 1)[:, None, None] * direction).astype("float32")
    lengths = rng.integers(2, tokens + 1, size=n)
    mask = (np.arange(tokens)[None] < lengths[:, None]).astype("int32")
    inputs = {"states": states, "mask": mask}
    model = build_side_model(side, 8, NUM_STATES, DIM)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(inputs, labels, batch_size=64, epochs=6, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] > 0.9
