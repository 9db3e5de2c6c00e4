"""The method plugins: every registered method meets the contract; counts come from the built model and
equal the formulas; subsets train alone; run keys hold only what a method uses; entry points add methods."""
import contextlib
import dataclasses
import importlib.metadata
import json

import numpy as np
import pytest
import tf_keras as keras
from transformers import BertConfig, RobertaConfig

from formulas import block_sizes, expected_trainable
from minion_tf.backbones import Backbone, encoder_from_config, load_config
from minion_tf.data.glue import get_task
from minion_tf.errors import MinionError
from minion_tf.methods import registry
from minion_tf.methods.base import KerasMethod, Method, MethodConfig, parameter_count
from minion_tf.methods.bitfit import is_bias
from minion_tf.methods.registry import make_method, methods
from minion_tf.runs.config import RunConfig
from minion_tf.runs.task_data import TWEETS

TINY = dict(vocab_size=100, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=24,
            max_position_embeddings=40)
FAMILY = {"finetune": {}, "freeze": {"last_k": 2}, "bitfit": {}, "prompt": {"prompt_length": 5},
          "embeddings-only": {}, "encoder-only": {}}


@contextlib.contextmanager
def installed(monkeypatch, name: str, cls):
    """`cls` as another package would add it: an entry point `name` in the group (the registry scans again)."""
    entry = importlib.metadata.EntryPoint(name, f"elsewhere:{cls.__name__}", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(entry.__class__, "load", lambda self: cls)
    monkeypatch.setattr(registry.importlib.metadata, "entry_points", lambda group: [entry])
    registry.methods.cache_clear()
    try:
        yield
    finally:
        registry.methods.cache_clear()


def least_options(cls) -> dict:
    """The smallest options a method accepts (its required ones set to 1)."""
    return {name: 1 for name in cls.Config.required()}


@pytest.mark.parametrize("name", list(methods()))
def test_every_registered_method_meets_the_contract(name):
    cls = methods()[name]
    assert issubclass(cls, Method) and cls.name == name
    assert dataclasses.is_dataclass(cls.Config) and issubclass(cls.Config, MethodConfig)
    assert cls.Config.__dataclass_params__.frozen
    for f in cls.Config.options():
        assert f.metadata["help"], f"{name}: option {f.name} has no help text (its flag's help)"
    method = make_method(name, least_options(cls))
    assert method.default_lr() > 0 and (method.default_lr.__doc__ or "").strip(), f"{name}: say where its lr comes from"
    assert method.label().startswith(name) and method.display_name("MiniLM-L6")
    assert len(cls.kind) == 2 and all(cls.kind)
    if cls.size_option is not None:
        assert cls.size_option in {f.name for f in cls.Config.options()}
    assert callable(cls.load_predictor)


def test_a_method_missing_part_of_the_contract_is_refused_in_one_line(monkeypatch):
    class Half(KerasMethod):
        name = "half"

        def default_lr(self):
            return 1e-3

    with installed(monkeypatch, "half", Half):
        with pytest.raises(MinionError, match="method 'half' does not implement build, feeds, load_predictor, save"):
            methods()


def test_an_entry_point_adds_a_method_without_editing_the_package(monkeypatch):
    from minion_tf.methods.finetune import FineTune

    @dataclasses.dataclass(frozen=True)
    class AdapterConfig(MethodConfig):
        width: int = dataclasses.field(default=4, metadata={"help": "adapter width", "minimum": 1})

    class Adapter(FineTune):
        name, Config, size_option = "adapter", AdapterConfig, "width"

    with installed(monkeypatch, "adapter", Adapter):
        from minion_tf.runs.cli import parser

        assert methods()["adapter"] is Adapter
        args = parser().parse_args(["--model", "adapter", "--width", "16"])
        assert (args.model, args.width) == ("adapter", 16)
        assert RunConfig(model="adapter", options={"width": 16}).label() == "adapter-16"
        with pytest.raises(MinionError, match="--width must be at least 1, got 0"):
            RunConfig(model="adapter", options={"width": 0})


def tiny_backbone_of(config_cls) -> Backbone:
    return Backbone(name="tiny", encoder=encoder_from_config(config_cls(**TINY)), tokenizer=None,
                    config=config_cls(**TINY))


@pytest.mark.parametrize("config_cls", [BertConfig, RobertaConfig])
@pytest.mark.parametrize("name", list(FAMILY))
def test_counts_of_the_built_model_equal_the_formula(config_cls, name):
    method = make_method(name, FAMILY[name])
    run = RunConfig(model=name, options=FAMILY[name], max_length=20)
    built = method.build(run, tiny_backbone_of(config_cls), get_task("mnli"))  # 3 classes
    options = FAMILY[name]
    assert parameter_count(built.variables) == expected_trainable(
        name, config_cls(**TINY), 3, k=options.get("last_k"), prompt_length=options.get("prompt_length"))
    b = block_sizes(config_cls(**TINY), 3)
    extra = 5 * 16 if name == "prompt" else 0
    assert built.total == b["embeddings"] + 3 * b["layer"] + b["pooler"] + b["head"] + extra


@pytest.mark.parametrize("name,options", [("minion", {"hidden": 8}), ("read", {"hidden": 8})])
def test_side_counts_are_the_side_network_plus_the_frozen_encoder(name, options):
    from minion_tf.models.side_tuning import build_side_model

    backbone = tiny_backbone_of(BertConfig)
    built = make_method(name, options).build(RunConfig(model=name, options=options), backbone, TWEETS)
    side = build_side_model(name, 8, 4, 16, 2)
    assert parameter_count(built.variables) == side.count_params()
    assert built.total == side.count_params() + backbone.encoder.count_params()


def test_base_sized_counts_from_shipped_configs():
    bert = load_config("bert-base-uncased")
    # 109,482,240 = BERT-base with pooler; fine-tuning trains all but the 590,592 pooler weights
    assert expected_trainable("finetune", bert, 2) == 109_482_240 - 590_592 + 1538
    assert expected_trainable("freeze", bert, 2, k=4) == 4 * 7_087_872 + 1538
    assert expected_trainable("bitfit", bert, 2) == 768 + 12 * (7 * 768 + 3072) + 1538 == 103_682
    tweet = load_config("vinai/bertweet-base")
    # BERTweet: (64001 + 130 + 1) * 768 + 1536 embeddings; 134,899,968 with its pooler
    assert expected_trainable("embeddings-only", tweet, 2) == 64132 * 768 + 1536 + 1538
    assert expected_trainable("finetune", tweet, 2) + 590_592 - 1538 == 134_899_968


def test_hand_formulas_for_the_tiny_config():
    config = BertConfig(**TINY)
    layer = 4 * 16 * 16 + 4 * 16 + 2 * 16 * 24 + 24 + 16 + 4 * 16          # = 1960
    head = 16 * 3 + 3
    assert expected_trainable("encoder-only", config, 3) == 3 * layer + head == 5931
    assert expected_trainable("bitfit", config, 3) == 16 + 3 * (7 * 16 + 24) + head == 475
    assert expected_trainable("prompt", config, 3, prompt_length=20) == 20 * 16 + head


@pytest.mark.parametrize("k", [1, 2, 3])
def test_last_k_trains_only_the_last_layers(k):
    built = make_method("freeze", {"last_k": k}).build(RunConfig(model="freeze", options={"last_k": k}),
                                                       tiny_backbone_of(BertConfig), TWEETS)
    names = {v.name for v in built.variables}
    assert not any("embeddings" in n for n in names)
    assert {n.split("layer_._")[1].split("/")[0] for n in names if "layer_._" in n} == {str(i) for i in range(3 - k, 3)}


def test_last_k_beyond_the_encoder_is_one_line():
    run = RunConfig(model="freeze", options={"last_k": 4})
    with pytest.raises(MinionError, match=r"--last-k must be an integer in 1\.\.3"):
        run.method.build(run, tiny_backbone_of(BertConfig), TWEETS)


def test_bitfit_takes_gradients_for_biases_only_and_leaves_every_other_weight_bit_identical():
    from minion_tf.runs.fitting import TrainOnly, compile_for

    keras.utils.set_random_seed(0)
    run = RunConfig(model="bitfit")
    built = run.method.build(run, tiny_backbone_of(BertConfig), TWEETS)
    model = TrainOnly(built.model, built.variables)
    compile_for(model, TWEETS, keras.optimizers.Adam(1e-2))
    encoder = built.model.encoder
    before = {v.name: v.numpy().copy() for v in encoder.weights}
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 100, (16, 6)).astype(np.int32)
    model.fit({"ids": ids, "mask": np.ones_like(ids)}, rng.integers(0, 2, 16), batch_size=8, epochs=2, verbose=0)
    kept = {v.ref() for v in built.variables}
    for v in encoder.weights:
        if v.ref() in kept:
            assert is_bias(v) and not np.array_equal(before[v.name], v.numpy()), v.name
        else:
            assert np.array_equal(before[v.name], v.numpy()), v.name   # bit-identical
    assert len(model.optimizer.variables) == 1 + 2 * len(built.variables)  # iterations + Adam m, v per trained one


def test_an_option_of_another_method_is_refused_not_hashed():
    with pytest.raises(MinionError, match="--hidden goes with --model minion, read, not --model finetune"):
        RunConfig(model="finetune", options={"hidden": 8})
    with pytest.raises(MinionError, match=r"--model freeze needs --last-k \(the number of last encoder layers"):
        RunConfig(model="freeze")
    assert "hidden" not in RunConfig(model="finetune").key_fields()


def test_encoder_aliases_give_one_run_key():
    keys = {RunConfig(encoder=name).run_key() for name in ("minilm", "all-MiniLM-L6-v2", "MiniLM",
                                                            "sentence-transformers/all-MiniLM-L6-v2")}
    assert len(keys) == 1


def test_fasttext_keys_leave_out_the_encoder():
    assert RunConfig(model="fasttext", encoder="minilm").run_key() == RunConfig(model="fasttext",
                                                                                 encoder="vinai/bertweet-base").run_key()


def test_side_runs_keep_their_keys_and_an_old_folder_gets_the_mv_line(tmp_path):
    from minion_tf.runs.migrate import legacy_run_dir
    from minion_tf.runs.runner import run

    config = RunConfig(model="minion", options={"hidden": 64}, out=str(tmp_path))
    old = legacy_run_dir(config)
    assert old.name == f"minion-h64-lr0.0003-s0-{config.run_key()}"    # the same key, the old name
    assert config.run_dir().name == f"minion-64-lr0.0003-s0-{config.run_key()}"
    finetune = RunConfig(model="finetune", out=str(tmp_path))
    old = legacy_run_dir(finetune)
    old.mkdir(parents=True)
    (old / "run.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(MinionError, match=f"holds this run under its old name .*`mv {old} {finetune.run_dir()}`"):
        run(finetune)


def test_options_are_converted_and_checked_by_type():
    assert RunConfig(model="minion", options={"hidden": 64.0}).run_key() == RunConfig(model="minion").run_key()
    assert isinstance(RunConfig(model="minion", options={"hidden": 64.0}).method.options.hidden, int)
    with pytest.raises(MinionError, match="--hidden must be an integer, got 6.5"):
        RunConfig(model="minion", options={"hidden": 6.5})
    with pytest.raises(MinionError, match="--hidden must be a number, got '64'"):
        RunConfig(model="minion", options={"hidden": "64"})
    with pytest.raises(MinionError, match="--pcgrad must be true or false, got 1"):
        RunConfig(model="multitask", task="minbert", options={"pcgrad": 1})


def test_bool_options_switch_both_ways_on_the_command_line():
    from minion_tf.runs.cli import config_from_args, parser

    on = config_from_args(parser().parse_args(["--model", "multitask", "--task", "minbert", "--pcgrad"]))
    off = config_from_args(parser().parse_args(["--model", "multitask", "--task", "minbert", "--no-pcgrad"]))
    assert on.method.options.pcgrad is True and off.method.options.pcgrad is False


def test_a_broken_plugin_is_one_line_on_every_command(monkeypatch, capsys):
    from minion_tf.methods.finetune import FineTune
    from minion_tf.runs.cli import main

    class Clash(FineTune):
        name = "finetune"

    with installed(monkeypatch, "clash", Clash):
        assert main(["--help"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: entry point clash: method name 'finetune' is taken by minion_tf.methods.finetune"


def test_an_option_named_like_a_shared_flag_is_refused(monkeypatch, capsys):
    from minion_tf.methods.finetune import FineTune
    from minion_tf.runs.cli import main

    @dataclasses.dataclass(frozen=True)
    class EpochsConfig(MethodConfig):
        epochs: int = dataclasses.field(default=3, metadata={"help": "its own epochs"})

    class Greedy(FineTune):
        name, Config = "greedy", EpochsConfig

    with installed(monkeypatch, "greedy", Greedy):
        assert main(["--help"]) == 2
    assert "its option 'epochs' is a shared run flag (--epochs)" in capsys.readouterr().err
