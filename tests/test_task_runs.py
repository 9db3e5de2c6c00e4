"""Every --model on GLUE-style tasks: counts, pair inputs, regression, seeds, early stopping, reload, errors."""
import json

import numpy as np
import pytest

from minion_tf.errors import MinionError
from minion_tf.runs.config import RunConfig

FAMILY = [("finetune", {}), ("freeze", {"last_k": 1}), ("bitfit", {}), ("prompt", {"prompt_length": 4}),
          ("embeddings-only", {}), ("encoder-only", {})]


@pytest.fixture(scope="module")
def glue_dir(shared_data, tmp_path_factory):
    """Small RTE (pairs) and STS-B (regression) folders cut from the real ones."""
    root = tmp_path_factory.mktemp("glue")
    for task, n_train, n_dev in (("RTE", 80, 30), ("STS-B", 80, 30)):
        (root / task).mkdir()
        for name, n in (("train.tsv", n_train), ("dev.tsv", n_dev)):
            lines = (shared_data / "glue" / task / name).read_text(encoding="utf-8").splitlines(keepends=True)
            (root / task / name).write_text("".join(lines[:n + 1]), encoding="utf-8")
    return root


def small(tiny_encoder_dir, glue_dir, out, **kw):
    base = dict(task="rte", epochs=2, batch_size=16, encoder=str(tiny_encoder_dir), data=str(glue_dir),
                max_examples=None, max_length=32, out=str(out), lr=1e-3)
    return RunConfig(**{**base, **kw})


@pytest.mark.parametrize("model,extra", FAMILY + [("minion", {"hidden": 4}), ("read", {"hidden": 4})])
def test_describe_gives_the_count_each_method_trains(model, extra, tiny_encoder_dir, tmp_path):
    from minion_tf.backbones import load_backbone
    from minion_tf.data.glue import get_task
    from minion_tf.methods.base import parameter_count

    config = RunConfig(model=model, options=extra, task="stsb", encoder=str(tiny_encoder_dir), out=str(tmp_path))
    counts = config.method.describe(config, get_task("stsb"))
    backbone = load_backbone(str(tiny_encoder_dir), trainable=True)  # the weights do not change the counts
    built = config.method.build(config, backbone, get_task("stsb"))
    assert counts == {"trainable": parameter_count(built.variables), "total": built.total}
    assert built.model.get_layer("classifier").get_config()["activation"] == "linear"  # STS-B: one score


def test_side_model_on_pairs_with_seeds_early_stopping_and_reload(tiny_encoder_dir, glue_dir, tmp_path):
    from minion_tf.metrics.task_metrics import glue_metrics
    from minion_tf.methods.registry import method_class
    from minion_tf.runs.runner import run

    config = small(tiny_encoder_dir, glue_dir, tmp_path, model="minion", options={"hidden": 4}, seeds=2, epochs=6,
                   patience=1, min_delta=0.5)  # no gain of 0.5: stops after epoch 2
    summary = run(config)
    records = [json.loads((tmp_path / name.split("/")[-1] / "run.json").read_text()) for name in summary["runs"]]
    assert [r["config"]["seed"] for r in records] == [0, 1]
    scores = [r["test"]["score"] for r in records]
    assert summary["test"]["score"]["mean"] == pytest.approx(np.mean(scores))
    for record, name in zip(records, summary["runs"]):
        assert len(record["epochs"]) == 2 and record["best_epoch"] == 0
        elapsed = [e["elapsed_s"] for e in record["epochs"]]
        assert elapsed == sorted(elapsed) and all("val_score" in e for e in record["epochs"])
        assert record["data"] == {"train": 72, "val": 8, "test": 30}
        run_dir = tmp_path / name.split("/")[-1]
        probs = np.load(run_dir / "test_probs.npy")
        assert record["test"]["metrics"] == glue_metrics("rte", probs, np.array(_labels(glue_dir, "RTE")))
        texts, pairs = _texts(glue_dir, "RTE")
        predict = method_class("minion").load_predictor(run_dir)
        np.testing.assert_allclose(predict(texts, pairs), probs, atol=2e-5)  # best epoch's weights were saved


def test_regression_task_with_a_fine_tuning_method_resumes_and_reloads(tiny_encoder_dir, glue_dir, tmp_path,
                                                                         cut_after_first_epoch):
    from minion_tf.methods.registry import method_class
    from minion_tf.runs.runner import run

    straight = run(small(tiny_encoder_dir, glue_dir, tmp_path / "a", task="stsb", model="bitfit", epochs=3))
    config = small(tiny_encoder_dir, glue_dir, tmp_path / "b", task="stsb", model="bitfit", epochs=3)
    cut_after_first_epoch(config)
    record = run(config)
    assert len(record["epochs"]) == len(straight["epochs"])
    # after the resume the dropout masks differ from the straight run's, so its best epoch may too; it is
    # the one its own scores pick (a gain of at least --min-delta 1e-3)
    best, best_score = 0, record["epochs"][0]["val_score"]
    for index, entry in enumerate(record["epochs"][1:], 1):
        if entry["val_score"] >= best_score + 1e-3:
            best, best_score = index, entry["val_score"]
    assert record["best_epoch"] == best
    assert record["epochs"][0]["loss"] == pytest.approx(straight["epochs"][0]["loss"], rel=1e-5)
    assert set(record["test"]["metrics"]) == {"pearson", "spearman"} and "ace" not in record["test"]
    assert record["test"]["score"] == record["test"]["metrics"]["spearman"]
    outputs = np.load(config.run_dir() / "test_probs.npy")
    assert outputs.shape == (30, 1)
    texts, pairs = _texts(glue_dir, "STS-B")
    np.testing.assert_allclose(method_class("bitfit").load_predictor(config.run_dir())(texts, pairs), outputs,
                               atol=1e-5)


def test_pair_cache_equals_streamed_pair_states(tiny_backbone, tmp_path):
    from minion_tf.cache import build_cache

    texts, pairs = ["a cat sat", "dogs bark at night", "hi"], ["on a mat", "loudly", "there you are friend"]
    cache = build_cache(tiny_backbone, texts, tmp_path / "c", max_length=12, pairs=pairs, progress=False)
    seqs = tiny_backbone.tokenizer.encode(texts, 12, pairs=pairs)
    assert list(cache.lengths) == [len(s) for s in seqs]
    scores = np.array([0.5, 4.0, 2.5], np.float32)
    for x, y, rows in cache.dataset(8, scores, with_rows=True):
        np.testing.assert_array_equal(y.numpy(), scores[rows.numpy()])
        ids, mask = tiny_backbone.batch([texts[r] for r in rows.numpy()], 12, pairs=[pairs[r] for r in rows.numpy()])
        streamed = tiny_backbone.hidden_states(ids, mask).numpy() * mask[:, None, :, None]  # cache: zero padding
        np.testing.assert_array_equal(x["mask"].numpy(), mask)
        np.testing.assert_allclose(x["states"].numpy().astype(np.float32), streamed, atol=2e-3, rtol=2e-3)


@pytest.mark.parametrize("argv,message", [
    (["--task", "glue9"], "unknown task 'glue9'"),
    (["--model", "freeze"], "--model freeze needs --last-k"),
    (["--model", "finetune", "--hidden", "8"], "--hidden goes with --model minion, read, not --model finetune"),
    (["--model", "prompt", "--prompt-length", "120", "--max-length", "16"], "exceeds the encoder's 128 positions"),
    (["--train-fraction", "1.5"], "--train-fraction must be in (0, 1)"),
])
def test_bad_task_flags_give_one_line(argv, message, tiny_encoder_dir, glue_dir, tmp_path, capsys):
    from minion_tf.runs.cli import main

    base = ["--task", "rte", "--encoder", str(tiny_encoder_dir), "--data", str(glue_dir), "--out", str(tmp_path),
            "--epochs", "1", "--max-length", "16"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_tsv_without_its_label_column_gives_one_line(tiny_encoder_dir, glue_dir, tmp_path, capsys):
    from minion_tf.runs.cli import main

    bad = tmp_path / "bad" / "RTE"
    bad.mkdir(parents=True)
    for name in ("train.tsv", "dev.tsv"):
        lines = (glue_dir / "RTE" / name).read_text().splitlines()
        (bad / name).write_text("\n".join("\t".join(line.split("\t")[:3]) for line in lines) + "\n")
    assert main(["--task", "rte", "--encoder", str(tiny_encoder_dir), "--data", str(bad.parent),
                 "--out", str(tmp_path / "runs"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "train.tsv:1: missing column(s) label" in err and len(err.splitlines()) == 1


def _rows(glue_dir, task):
    lines = (glue_dir / task / "dev.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def _texts(glue_dir, task):
    rows = _rows(glue_dir, task)
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows]


def _labels(glue_dir, task):
    return [0 if r["label"] == "entailment" else 1 for r in _rows(glue_dir, task)]


def test_unknown_task_is_refused_before_any_work():
    with pytest.raises(MinionError, match="known tasks are tweets, text, cola, sst2"):
        RunConfig(task="cola2")
