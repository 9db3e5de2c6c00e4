"""Ladder Side-Tuning (`--model lst`): parameter count against a formula, gates, padding, save/load, training."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from layer_testing import check_layer, check_model, padded
from minion_tf.errors import MinionError
from minion_tf.layers.ladder_side import LadderSide
from minion_tf.methods.lst import LadderSideTuning, LSTConfig, build_lst_model
from minion_tf.methods.registry import make_method, method_class

LENGTHS = [7, 4, 1, 6]
NUM_STATES, DIM, REDUCTION = 3, 32, 4  # side width 8


def expected_params(num_states, d, reduction, num_labels=2):
    """Counted by hand from the architecture (not from the layer's own sizes)."""
    d_s = d // reduction
    heads = max(1, math.ceil(d_s / 64))
    inner = heads * math.ceil(d_s / heads)  # heads x head size
    ffn = 4 * d_s
    downsamples = num_states * (d * d_s + d_s)
    gates = num_states - 1
    block = (3 * (d_s * inner + inner) + inner * d_s + d_s  # q, k, v, attention output
             + 2 * 2 * d_s                                    # two LayerNorms
             + d_s * ffn + ffn + ffn * d_s + d_s)             # FFN
    return (downsamples + gates + (num_states - 1) * block + 2 * d_s  # + final LayerNorm
            + d_s * d + d + d * num_labels + num_labels)              # upsample, classifier


@pytest.fixture
def batch():
    shape = (len(LENGTHS), NUM_STATES, 7, DIM)
    return np.random.default_rng(0).normal(size=shape).astype("float32")


@pytest.mark.parametrize("num_states, d, total", [(7, 384, 318_680), (13, 768, 2_378_030)],
                         ids=["minilm", "bertweet-base"])
def test_parameter_count_matches_the_formula(num_states, d, total):
    assert expected_params(num_states, d, 8) == total
    model = make_method("lst", {"reduction": 8}).side_model(num_states, d, 2)
    assert model.count_params() == total
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == total  # all of it trains
    names = [w.name for w in model.weights]
    assert len(names) == len(set(names))  # .h5 weight files need unique names
    assert model.count_params() == expected_params(num_states, d, 8)
    regression = build_lst_model(num_states, d, 1, 8)
    assert regression.count_params() == expected_params(num_states, d, 8, num_labels=1)
    assert regression.get_layer("classifier").activation is keras.activations.linear


@pytest.mark.parametrize("reduction, heads", [(1, 6), (3, 2), (7, 1)])
def test_heads_and_odd_widths(reduction, heads):
    side = LadderSide(3, 384, reduction)
    assert side.heads == heads and side.side_dim == 384 // reduction
    assert build_lst_model(3, 384, 2, reduction).count_params() == expected_params(3, 384, reduction)
    fixed = LadderSide(3, 32, 2, num_heads=3)  # 16 wide: 3 heads of 6 (inner 18)
    assert fixed(tf.zeros([1, 3, 4, 32])).shape == (1, 4, 32)


def test_describe_counts_the_side_model_and_the_frozen_encoder(capsys):
    from minion_tf.backbones import describe_dims

    run = SimpleNamespace(encoder="minilm", cache_dtype="float16", cache_layers=None)
    counts = LadderSideTuning(LSTConfig(8)).describe(run, SimpleNamespace(num_labels=2))
    assert counts["trainable"] == 318_680
    assert counts["total"] == 318_680 + describe_dims("minilm")["encoder_params"]
    assert counts == {"trainable": 318_680, "total": counts["total"]}  # the method contract's two counts
    assert "hidden-state cache (float16): 5,376 bytes a token (7 states x 384 x 2 bytes)" in capsys.readouterr().out


def test_gates_start_at_one_half_and_follow_the_recurrence(batch):
    side = LadderSide(NUM_STATES, DIM, REDUCTION, dropout=0.0)
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    out = side(states, mask=mask).numpy()
    np.testing.assert_array_equal(side.gate_logits.numpy(), np.zeros(NUM_STATES - 1))
    np.testing.assert_allclose(side.gates().numpy(), 0.5)
    side.gate_logits.assign([0.2, -0.1])  # T = 0.1: mu = sigmoid(2), sigmoid(-1)
    np.testing.assert_allclose(side.gates().numpy(), 1 / (1 + np.exp([-2.0, 1.0])), rtol=1e-6)
    # h_0 = down_0(phi_0); x_i = mu_i down_i(phi_i) + (1 - mu_i) h_{i-1}; h_i = block_i(x_i)
    keep = mask.astype(bool)
    bias = tf.where(keep, 0.0, -1e9)[:, None, None, :]
    hidden = side.downsamples[0](states[:, 0])
    for i, mu in enumerate(side.gates().numpy(), start=1):
        hidden = side._block(i - 1, mu * side.downsamples[i](states[:, i]) + (1 - mu) * hidden, bias, False)
    expected = side.upsample(side.final_norm(hidden)).numpy() * keep[..., None]
    np.testing.assert_allclose(side(states, mask=mask).numpy(), expected, atol=1e-5)
    assert not np.allclose(out, expected)  # the gates matter


def test_padding_does_not_change_the_output(batch):
    side = LadderSide(NUM_STATES, DIM, REDUCTION)
    short, short_mask = padded(batch, LENGTHS, 7, seed=1)
    long, long_mask = padded(batch, LENGTHS, 12, seed=2)
    long[:, :, 9:] = np.inf  # non-finite padding is selected away, not multiplied by 0
    out_short, out_long = side(short, mask=short_mask).numpy(), side(long, mask=long_mask).numpy()
    assert out_short.shape == (4, 7, DIM) and out_long.shape == (4, 12, DIM)
    for row, length in enumerate(LENGTHS):
        np.testing.assert_allclose(out_short[row, :length], out_long[row, :length], atol=1e-5)
        np.testing.assert_array_equal(out_long[row, length:], 0)
    model = build_lst_model(NUM_STATES, DIM, 2, REDUCTION)
    np.testing.assert_allclose(model({"states": short, "mask": short_mask}),
                               model({"states": long, "mask": long_mask}), atol=1e-6)
    # float16 states (as the cache stores them) and bool masks are accepted; no mask: all real
    assert side(short.astype("float16"), mask=short_mask.astype(bool)).dtype == tf.float32
    all_real = np.ones((4, 7), "int32")
    np.testing.assert_allclose(side(batch), side(batch, mask=all_real), atol=1e-6)


def test_attention_mixes_tokens(batch):
    side = LadderSide(NUM_STATES, DIM, REDUCTION)
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    changed = states.copy()
    changed[0, :, 6] += 1.0  # the last real token of row 0 changes the first one's output
    assert not np.allclose(side(changed, mask=mask)[0, 0], side(states, mask=mask)[0, 0])


def test_bad_shapes_are_refused():
    with pytest.raises(MinionError, match="at least one layer"):
        LadderSide(1, DIM)
    with pytest.raises(MinionError, match="reduction"):
        LadderSide(NUM_STATES, DIM, DIM + 1)
    with pytest.raises(MinionError, match="states must be"):
        LadderSide(NUM_STATES, DIM, REDUCTION)(tf.zeros([1, NUM_STATES + 1, 4, DIM]))
    with pytest.raises(MinionError, match="--reduction must be at least 1"):
        make_method("lst", {"reduction": 0})


def test_method_contract():
    cls = method_class("lst")
    assert cls is LadderSideTuning and cls.suites == ("tweets", "glue", "imdb")
    method = make_method("lst", {})
    assert method.options.reduction == 8 and method.label() == "lst-8" and method.display_name("x") == "LST-8"
    assert method.default_lr() == 1e-3
    assert make_method("lst", {"reduction": 16}).size() == "16"


def test_ladder_side_passes_the_layer_checks(batch):
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    layer = check_layer(lambda: LadderSide(NUM_STATES, DIM, REDUCTION, num_heads=2, ffn_dim=12, dropout=0.2,
                                           gate_temperature=0.5, name="side"),
                        {"states": states, "mask": mask}, call=lambda layer, x: layer(x["states"], mask=x["mask"]))
    assert (layer.heads, layer.ffn_units, layer.gate_temperature) == (2, 12, 0.5)


def test_lst_side_model_passes_the_model_checks_in_both_formats(batch):
    """`.keras`, and what SideNetworkMethod.save writes and load_side reads: the weights alone, in .h5."""
    states, mask = padded(batch, LENGTHS, 7, seed=1)
    check_model(lambda: make_method("lst", {"reduction": REDUCTION}).side_model(NUM_STATES, DIM, 3),
                {"states": states, "mask": mask}, save=("keras", "weights"))


def test_a_few_steps_reduce_the_loss():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=64)
    states = rng.normal(size=(64, NUM_STATES, 6, DIM)).astype("float16")
    states[:, 1, :, :8] += np.where(labels, 1.0, -1.0)[:, None, None]  # a layer's state gives the label away
    mask = (np.arange(6)[None, :] < rng.integers(2, 7, size=64)[:, None]).astype("int32")
    model = LadderSideTuning(LSTConfig(REDUCTION)).side_model(NUM_STATES, DIM, 2)
    model.compile(keras.optimizers.Adam(LadderSideTuning().default_lr()), "sparse_categorical_crossentropy")
    inputs = {"states": states, "mask": mask}
    before = model.evaluate(inputs, labels, verbose=0)
    model.fit(inputs, labels, batch_size=16, epochs=8, verbose=0)  # 32 steps
    after = model.evaluate(inputs, labels, verbose=0)
    assert after < 0.5 * before


@pytest.mark.slow  # two real runs through the runner (~1 min, as tests/test_run.py's MINION one)
def test_cached_and_streamed_runs_train_the_same_side_network_and_reload(tiny_encoder_dir, tweet_dir, tmp_path):
    from minion_tf.runs.config import RunConfig
    from minion_tf.runs.runner import run
    from minion_tf.runs.tweet_data import load_splits

    def small(out, **kw):  # tiny BERT: 3 states of width 32, side width 8
        return RunConfig(model="lst", options={"reduction": 4}, epochs=1, batch_size=32, encoder=str(tiny_encoder_dir),
                         data=str(tweet_dir), max_examples=300, max_length=16, out=str(out), **kw)

    cached_config = small(tmp_path / "c")
    cached = run(cached_config)
    streamed = run(small(tmp_path / "s", no_cache=True))
    assert streamed["streaming"] and not cached["streaming"]
    assert cached["params"]["trainable"] == expected_params(3, 32, 4)
    assert streamed["epochs"][0]["loss"] == pytest.approx(cached["epochs"][0]["loss"], abs=2e-3)
    assert streamed["test"]["nll"] == pytest.approx(cached["test"]["nll"], abs=2e-3)
    texts, _ = load_splits(cached_config)["test"]
    predict = LadderSideTuning.load_predictor(cached_config.run_dir())
    # the predictor runs the encoder again: a state may round to the neighbouring float16 (seen: 3.8e-5 on 2 of 60)
    np.testing.assert_allclose(predict(texts), np.load(cached_config.run_dir() / "test_probs.npy"), atol=1e-3)


@pytest.mark.slow
def test_describe_bertweet_without_weights_data_or_network(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "experiments" / "run.py"
    result = subprocess.run([sys.executable, str(script), "--model", "lst", "--reduction", "8", "--encoder",
                             "vinai/bertweet-base", "--describe", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    # 2,378,030 = expected_params(13, 768, 8); BERTweet-base's encoder has 134,899,968
    assert "trainable params: 2,378,030 || all params: 137,277,998 || trainable%: 1.7323" in result.stdout
