"""LoRA: the adapter layer (exact at init, x A B alpha / r, config, save/load), its injection into BERT and
RoBERTa encoders, the counts (BERTweet-base: 296,450 of 135,196,418), what one step changes, save and reload."""
import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from transformers import BertConfig, RobertaConfig

from minion_tf.backbones import Backbone, encoder_from_config
from minion_tf.errors import MinionError
from minion_tf.layers.lora import LoRADense, add_lora
from minion_tf.methods.registry import make_method
from minion_tf.runs.config import RunConfig
from minion_tf.runs.task_data import TWEETS

D_IN, UNITS, RANK = 12, 10, 3
TINY = dict(vocab_size=100, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=24,
            max_position_embeddings=40)


def built_dense(units=UNITS, d_in=D_IN, **kwargs):
    dense = keras.layers.Dense(units, bias_initializer="glorot_uniform", **kwargs)  # a non-zero bias
    dense.build((None, d_in))
    return dense


def inputs(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def fresh_encoder(config_cls):
    """A tiny random encoder of its own (the session fixtures are shared: adapters would stay in them)."""
    return encoder_from_config(config_cls(**TINY))


def encode(encoder, ids):
    out = encoder(input_ids=ids, attention_mask=tf.ones_like(ids), output_hidden_states=True, training=False)
    return np.stack([h.numpy() for h in out.hidden_states])


IDS = tf.constant([[5, 17, 42, 8, 2, 0], [3, 9, 9, 1, 0, 0]])


# ---------------------------------------------------------------- the layer
def test_adapter_at_init_equals_its_dense_exactly_with_b_zero_and_a_random():
    dense = built_dense()
    lora = LoRADense(dense, rank=RANK, alpha=6.0)
    x = inputs(4, 7, D_IN)
    np.testing.assert_array_equal(lora(x).numpy(), dense(x).numpy())  # bit for bit
    a, b = (w.numpy() for w in lora.adapter_weights)
    assert a.shape == (D_IN, RANK) and b.shape == (RANK, UNITS)
    assert not b.any()
    # A ~ U(-1/sqrt(d_in), 1/sqrt(d_in)): PyTorch's kaiming_uniform_(a=sqrt(5)), as loralib and peft
    assert np.abs(a).max() <= 1 / np.sqrt(D_IN) and np.unique(a).size == a.size
    assert len(lora.weights) == 4 and {w.name.split("/")[-1] for w in lora.adapter_weights} == {"lora_A:0", "lora_B:0"}
    assert lora.scaling == 2.0


def test_adapter_adds_x_a_b_times_alpha_over_rank():
    dense = built_dense()
    lora = LoRADense(dense, rank=RANK, alpha=6.0)
    x = inputs(2, 5, D_IN)
    lora(x)
    lora.lora_b.assign(inputs(RANK, UNITS, seed=1))
    a, b = lora.lora_a.numpy(), lora.lora_b.numpy()
    kernel, bias = dense.kernel.numpy(), dense.bias.numpy()
    np.testing.assert_allclose(lora(x).numpy(), x @ kernel + bias + x @ a @ b * (6.0 / RANK), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lora(x[0]).numpy(), lora(x).numpy()[0], rtol=1e-6)  # any leading axes


def test_adapter_sets_no_trainability():
    dense = built_dense(trainable=False)
    lora = LoRADense(dense, rank=2)
    lora.build((None, D_IN))
    assert dense.trainable is False and lora.trainable is True  # as given: the method chooses what trains
    assert [w.ref() for w in lora.trainable_weights] == [w.ref() for w in lora.adapter_weights]


def test_adapter_config_round_trip():
    lora = LoRADense(built_dense(), rank=RANK, alpha=5.0, name="q_lora")
    config = lora.get_config()
    again = LoRADense.from_config(config)
    again.build((None, D_IN))  # the wrapped Dense's config includes its build shape once built
    assert again.get_config() == config
    assert (again.rank, again.alpha, again.layer.units, again.name) == (RANK, 5.0, UNITS, "q_lora")
    assert keras.saving.get_registered_name(LoRADense) == "minion_tf>LoRADense"


def test_adapter_save_and_load_give_equal_outputs(tmp_path):
    x_in = keras.Input((None, D_IN))
    model = keras.Model(x_in, LoRADense(keras.layers.Dense(UNITS), rank=RANK, alpha=4.0, name="lora")(x_in))
    model.get_layer("lora").lora_b.assign(inputs(RANK, UNITS, seed=2))  # not the zero of a fresh layer
    x = inputs(3, 4, D_IN, seed=3)
    model.save(tmp_path / "lora.keras")
    loaded = keras.models.load_model(tmp_path / "lora.keras")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    model.save_weights(tmp_path / "lora.weights.h5")
    other = keras.Model(x_in, LoRADense(keras.layers.Dense(UNITS), rank=RANK, alpha=4.0, name="lora")(x_in))
    other.load_weights(tmp_path / "lora.weights.h5")
    np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("kwargs,message", [
    ({"rank": 0}, "rank must be an integer >= 1"), ({"rank": 2.5}, "rank must be an integer >= 1"),
    ({"alpha": 0.0}, "alpha must be > 0")])
def test_bad_adapter_arguments_are_refused(kwargs, message):
    with pytest.raises(MinionError, match=message):
        LoRADense(built_dense(), **kwargs)
    with pytest.raises(MinionError, match="wraps a keras Dense"):
        LoRADense(keras.layers.LayerNormalization())


# ---------------------------------------------------------------- injected into an encoder
@pytest.mark.parametrize("config_cls", [BertConfig, RobertaConfig])
def test_injected_encoder_computes_exactly_as_before_and_tracks_its_adapters(config_cls):
    encoder = fresh_encoder(config_cls)
    before, weights_before, params_before = encode(encoder, IDS), list(encoder.weights), encoder.count_params()
    adapters = add_lora(encoder, rank=RANK, alpha=8.0)
    layers, d = TINY["num_hidden_layers"], TINY["hidden_size"]
    assert len(adapters) == 2 * layers
    main = getattr(encoder, encoder.base_model_prefix)
    for i, block in enumerate(main.encoder.layer):
        attention = block.attention.self_attention
        assert [attention.query, attention.value] == adapters[2 * i: 2 * i + 2]
        assert not isinstance(attention.key, LoRADense)
    np.testing.assert_array_equal(encode(encoder, IDS), before)  # every hidden state, bit for bit

    tracked = {w.ref() for w in encoder.weights}
    assert all(w.ref() in tracked for a in adapters for w in a.adapter_weights)
    assert {w.ref() for w in weights_before} <= tracked  # the pretrained weights are still the model's
    assert encoder.count_params() - params_before == layers * 2 * (d * RANK + RANK * d)
    assert len({w.name for w in encoder.weights}) == len(encoder.weights)  # unique names (.h5 files)
    assert "layer_._0/attention/self/query/lora_A" in adapters[0].lora_a.name

    adapters[-1].lora_b.assign(tf.fill(adapters[-1].lora_b.shape, 0.1))  # the call goes through the adapter
    after = encode(encoder, IDS)
    np.testing.assert_array_equal(after[:-1], before[:-1])
    assert not np.allclose(after[-1], before[-1])

    with pytest.raises(MinionError, match="already has an adapter"):
        add_lora(encoder, rank=RANK)
    with pytest.raises(MinionError, match="not a transformers TF BERT/RoBERTa encoder"):
        add_lora(keras.layers.Dense(3))


@pytest.mark.slow
def test_adapters_on_the_pretrained_minilm_leave_its_states_exactly_equal():
    from minion_tf.backbones import load_backbone

    backbone = load_backbone()  # its own copy: the session's `minilm` fixture stays without adapters
    ids, mask = backbone.batch(["what a lovely day", "not good at all"], max_length=16)
    before = backbone.hidden_states(ids, mask).numpy()
    adapters = add_lora(backbone.encoder, rank=8)
    np.testing.assert_array_equal(backbone.hidden_states(ids, mask).numpy(), before)
    assert sum(w.shape.num_elements() for a in adapters for w in a.adapter_weights) == 6 * 2 * 2 * 384 * 8


# ---------------------------------------------------------------- the method
@pytest.mark.parametrize("config_cls", [BertConfig, RobertaConfig])
@pytest.mark.parametrize("rank", [1, 4])
def test_trainable_count_is_the_adapters_plus_the_head(config_cls, rank):
    from minion_tf.methods.base import parameter_count

    encoder = fresh_encoder(config_cls)
    encoder_params = encoder.count_params()
    backbone = Backbone(name="tiny", encoder=encoder, tokenizer=None, config=config_cls(**TINY))
    options = {"rank": rank, "alpha": 16.0}
    built = make_method("lora", options).build(RunConfig(model="lora", options=options), backbone, TWEETS)
    d, layers = TINY["hidden_size"], TINY["num_hidden_layers"]
    adapters, head = layers * 2 * (d * rank + rank * d), d * 2 + 2
    assert parameter_count(built.variables) == adapters + head
    assert built.total == encoder_params + adapters + head
    assert [w.ref() for w in built.variables[-2:]] == [w.ref() for w in built.model.classifier.weights]


@pytest.mark.slow
def test_bertweet_base_rank_8_counts_exactly(capsys):
    from minion_tf.runs.runner import describe

    counts = describe(RunConfig(model="lora", encoder="vinai/bertweet-base", options={"rank": 8}))
    # 12 layers x 2 projections x (768 x 8 + 8 x 768) = 294,912, plus the 768 x 2 + 2 head
    assert counts == {"trainable": 296_450, "total": 135_196_418}
    assert "trainable params: 296,450 || all params: 135,196,418" in capsys.readouterr().out


def test_options_label_and_default_rate():
    method = make_method("lora", {"rank": 16, "alpha": 32})
    assert (method.label(), method.display_name("MiniLM-L6"), method.default_lr()) == ("lora-16", "LoRA-16", 5e-4)
    assert RunConfig(model="lora").method.options.rank == 8 and RunConfig(model="lora").method.options.alpha == 8.0
    with pytest.raises(MinionError, match="--rank must be at least 1"):
        make_method("lora", {"rank": 0})
    with pytest.raises(MinionError, match="--rank must be an integer"):
        make_method("lora", {"rank": 2.5})
    with pytest.raises(MinionError, match="--alpha must be positive"):
        make_method("lora", {"alpha": 0})
    from minion_tf.runs.cli import parser

    args = parser().parse_args(["--model", "lora", "--rank", "4", "--alpha", "16"])
    assert (args.model, args.rank, args.alpha) == ("lora", 4, 16.0)


def test_training_steps_change_only_the_adapters_and_the_head(tiny_encoder_dir):
    from minion_tf.backbones import load_backbone
    from minion_tf.runs.fitting import TrainOnly

    backbone = load_backbone(str(tiny_encoder_dir), trainable=True)  # as the runner loads it for LoRA
    method = make_method("lora", {"rank": 4})
    built = method.build(RunConfig(model="lora", options={"rank": 4}), backbone, TWEETS)
    model = TrainOnly(built.model, built.variables)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    selected = {w.ref() for w in built.variables}
    a_weights = [w for w in built.variables if "lora_A" in w.name]
    b_weights = [w for w in built.variables if "lora_B" in w.name]
    assert len(a_weights) == len(b_weights) == 2 * backbone.config.num_hidden_layers
    before = {w.ref(): w.numpy().copy() for w in built.model.weights}
    ids, mask = backbone.batch(["good day", "bad day today", "fine", "awful"], max_length=8)
    labels = np.array([1, 0, 1, 0])

    model.fit({"ids": ids, "mask": mask}, labels, batch_size=4, epochs=1, verbose=0)  # one step
    frozen = [w for w in built.model.weights if w.ref() not in selected]
    assert len(frozen) == len(backbone.encoder.weights) - len(a_weights) - len(b_weights)
    for w in frozen:
        np.testing.assert_array_equal(w.numpy(), before[w.ref()], err_msg=w.name)  # bit-identical
    for w in b_weights + list(built.model.classifier.weights):
        assert not np.array_equal(w.numpy(), before[w.ref()]), w.name
    for w in a_weights:  # with B = 0, A's first gradient is exactly zero (so is Adam's step)
        np.testing.assert_array_equal(w.numpy(), before[w.ref()], err_msg=w.name)

    model.fit({"ids": ids, "mask": mask}, labels, batch_size=4, epochs=1, verbose=0)  # a second step moves A
    assert all(not np.array_equal(w.numpy(), before[w.ref()]) for w in a_weights)
    for w in frozen:
        np.testing.assert_array_equal(w.numpy(), before[w.ref()], err_msg=w.name)


def small(tiny_encoder_dir, tweet_dir, out, **kw):
    base = dict(model="lora", options={"rank": 4, "alpha": 8.0}, epochs=2, batch_size=32,
                encoder=str(tiny_encoder_dir), data=str(tweet_dir), max_examples=300, max_length=16, out=str(out),
                lr=1e-2)
    return RunConfig(**{**base, **kw})


def test_lora_run_saves_only_adapters_and_head_and_reloads_with_equal_predictions(tiny_encoder_dir, tweet_dir,
                                                                                   tmp_path):
    from minion_tf.backbones import load_backbone
    from minion_tf.methods.lora import LoRA
    from minion_tf.runs.runner import run
    from minion_tf.runs.tweet_data import load_splits

    config = small(tiny_encoder_dir, tweet_dir, tmp_path)
    record = run(config)
    run_dir = config.run_dir()
    assert run_dir.name.startswith("lora-4-lr0.01-s0-")
    layers, d = 2, 32  # the conftest's tiny BERT
    assert record["params"]["trainable"] == layers * 2 * 2 * d * 4 + d * 2 + 2
    with np.load(run_dir / "trained.npz") as arrays:  # adapters and head only
        assert len(arrays.files) == layers * 2 * 2 + 2
        assert sum(arrays[k].size for k in arrays.files) == record["params"]["trainable"]
    saved = json.loads((run_dir / "trained_model.json").read_text())
    assert (saved["model"], saved["options"]) == ("lora", {"rank": 4, "alpha": 8.0})

    texts, _ = load_splits(config)["test"]
    predict = LoRA.load_predictor(run_dir)
    np.testing.assert_allclose(predict(texts), np.load(run_dir / "test_probs.npy"), atol=1e-6)

    from minion_tf.methods.encoder import load_trained

    _, model, _ = load_trained(run_dir)  # rebuilt on the pretrained encoder: its own weights untouched
    pretrained = load_backbone(str(tiny_encoder_dir)).encoder
    def by_name(weights):  # without the instance's prefix (tf_bert_model_3/...)
        return {w.name.split("/", 1)[1]: w.numpy() for w in weights if "lora_" not in w.name}

    rebuilt, original = by_name(model.encoder.weights), by_name(pretrained.weights)
    assert rebuilt.keys() == original.keys() and len(original) == len(pretrained.weights)
    for name, value in original.items():
        np.testing.assert_array_equal(rebuilt[name], value, err_msg=name)


def test_adapters_are_in_the_resume_checkpoint_and_the_best_epoch_weights(tiny_encoder_dir, tmp_path):
    """What the runner's resume (tf.train.Checkpoint, read with expect_partial) and early stopping
    (`save_weights` to .weights.h5) write brings the adapters back on a second build."""
    from minion_tf.backbones import load_backbone
    from minion_tf.checkpoints import restore_progress, save_progress

    def build():
        backbone = load_backbone(str(tiny_encoder_dir), trainable=True)
        return backbone, make_method("lora", {"rank": 4}).build(RunConfig(model="lora", options={"rank": 4}),
                                                              backbone, TWEETS)

    backbone, first = build()
    for i, w in enumerate(first.variables):  # trained-looking values: B no longer zero
        w.assign(inputs(*w.shape, seed=i) * 0.1)
    ids, mask = backbone.batch(["good day", "bad day today"], max_length=8)
    expected = first.model({"ids": ids, "mask": mask}).numpy()
    save_progress(tmp_path / "progress", {"model": first.model}, 1, [{"loss": 1.0}])
    first.model.save_weights(str(tmp_path / "best.weights.h5"))

    for restore in (lambda m: restore_progress(tmp_path / "progress", {"model": m}),
                    lambda m: m.load_weights(str(tmp_path / "best.weights.h5"))):
        _, again = build()
        fresh = again.model({"ids": ids, "mask": mask}).numpy()
        assert not np.allclose(fresh, expected)
        restore(again.model)
        for w, v in zip(again.variables, first.variables):
            np.testing.assert_array_equal(w.numpy(), v.numpy(), err_msg=w.name)
        np.testing.assert_array_equal(again.model({"ids": ids, "mask": mask}).numpy(), expected)
