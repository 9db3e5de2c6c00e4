"""experiments/predict.py: a finished run of every --model predicts new texts as it predicted its test split;
pairs, regression and multi-task heads; bad input in one line before any model loads; submit.py checks
test_data.txt first."""
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from minion_tf.runs.config import RunConfig
from scripts import load_script

TWEET_RUNS = {"read": {"hidden": 4}, "minion": {"hidden": 4}, "finetune": {}, "freeze": {"last_k": 1}, "bitfit": {},
              "prompt": {"prompt_length": 4}, "embeddings-only": {}, "encoder-only": {}, "fasttext": {},
              "lora": {"rank": 2}, "lst": {"reduction": 4}}
PAIR_RUN = {"task": "stsb", "model": "read", "options": {"hidden": 4}}  # STS-B: sentence pairs and a regression score


def _script(name):
    return load_script(f"experiments/{name}.py", f"{name}_cli")


def predict_cli(*args) -> int:
    return _script("predict").main([str(a) for a in args])


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


@pytest.fixture(scope="module")
def sts_dir(shared_data, tmp_path_factory):
    """A small STS-B folder (GLUE layout) cut from the real one."""
    root = tmp_path_factory.mktemp("glue")
    (root / "STS-B").mkdir()
    for name, n in (("train.tsv", 60), ("dev.tsv", 20)):
        lines = (shared_data / "glue" / "STS-B" / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (root / "STS-B" / name).write_text("".join(lines[:n + 1]), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def finished(tiny_encoder_dir, tweet_dir, sts_dir, tmp_path_factory):
    """`finished(name)`: the folder of a tiny finished run, trained on first use: a tweet run of --model
    `name`, "stsb" (`PAIR_RUN`) or "multitask"."""
    from minion_tf.runs.runner import run

    out, made = tmp_path_factory.mktemp("runs"), {}

    def train(name):
        if name == "multitask":
            flags = [str(f) for f in ["--encoder", tiny_encoder_dir, "--max-examples", 10, "--max-dev-examples", 12,
                                      "--epochs", 1, "--batch-size", 10, "--sts-head", "uvcos", "--out", out]]
            script = _script("multitask")
            assert script.main(flags) == 0
            return script.config_for(flags).run_dir()
        base = dict(epochs=1, batch_size=64, encoder=str(tiny_encoder_dir), max_length=32, out=str(out))
        if name == "stsb":
            config = RunConfig(**base, **PAIR_RUN, data=str(sts_dir), max_examples=None, lr=1e-3)
        else:
            config = RunConfig(**base, model=name, data=str(tweet_dir), max_examples=300, options=TWEET_RUNS[name])
        run(config)
        return config.run_dir()

    def get(name):
        if name not in made:
            made[name] = train(name)
        return made[name]

    return get


@pytest.mark.parametrize("model", TWEET_RUNS)
def test_every_model_predicts_its_test_split_as_the_run_did(model, finished, tmp_path):
    run_dir = finished(model)
    record = json.loads((run_dir / "run.json").read_text())
    labels = record["task"]["labels"]
    assert labels == ["negative", "positive"]
    assert predict_cli("--run", run_dir, "--input", Path(record["prepared"]) / "test.tsv", "--text-column", "text",
                       "--out", tmp_path / "preds.csv") == 0
    header, rows = read_csv(tmp_path / "preds.csv")
    assert header == ["id", "label", *(f"p_{name}" for name in labels)]
    probs = np.array([[float(p) for p in row[2:]] for row in rows])
    expected = np.load(run_dir / "test_probs.npy")
    np.testing.assert_allclose(probs, expected, atol=2e-5)
    assert [row[0] for row in rows] == [str(i) for i in range(1, len(expected) + 1)]
    assert [row[1] for row in rows] == [labels[k] for k in probs.argmax(1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.csv"]  # no temporary file left


def test_pairs_with_an_id_column_give_a_regression_score(finished, sts_dir, tmp_path):
    dev = sts_dir / "STS-B" / "dev.tsv"
    assert predict_cli("--run", finished("stsb"), "--input", dev, "--text-column", "sentence1",
                       "--pair-column", "sentence2", "--id-column", "index", "--out", tmp_path / "sts.csv") == 0
    header, rows = read_csv(tmp_path / "sts.csv")
    assert header == ["id", "score"]
    assert [row[0] for row in rows] == [line.split("\t")[0] for line in dev.read_text().splitlines()[1:]]
    np.testing.assert_allclose([float(row[1]) for row in rows], np.load(finished("stsb") / "test_probs.npy")[:, 0],
                               atol=2e-5)


def test_multitask_heads_reproduce_the_runs_dev_metrics(finished, shared_data, tmp_path):
    from minion_tf.data.minbert import load_minbert, subsample
    from minion_tf.metrics.task_metrics import pearson_r

    run_dir = finished("multitask")
    record = json.loads((run_dir / "run.json").read_text())
    config = record["config"]
    splits = load_minbert(shared_data / "minbert", ("sst", "quora", "sts"), config["split_seed"])
    got = {}
    for head, kind in (("sst", "sst"), ("para", "quora"), ("sts", "sts")):
        dev = subsample(splits[kind][1], config["max_dev_examples"], config["split_seed"])
        columns = [dev.texts_a] if dev.texts_b is None else [dev.texts_a, dev.texts_b]
        table = tmp_path / f"{head}.tsv"
        table.write_text("\n".join("\t".join(r) for r in [["a", "b"][:len(columns)], *zip(*columns)]) + "\n")
        flags = ["--text-column", "a"] + ([] if dev.texts_b is None else ["--pair-column", "b"])
        assert predict_cli("--run", run_dir, "--input", table, *flags, "--head", head,
                           "--out", tmp_path / f"{head}.csv") == 0
        header, rows = read_csv(tmp_path / f"{head}.csv")
        values = np.array([[float(v) for v in row[2 if head != "sts" else 1:]] for row in rows])
        if head == "sts":
            assert header == ["id", "score"] and ((0 <= values) & (values <= 5)).all()
            got["sts_pearson"] = pearson_r(values[:, 0], dev.labels)
        else:
            assert header[:2] == ["id", "label"] and len(header) == (7 if head == "sst" else 4)
            np.testing.assert_allclose(values.sum(1), 1.0, atol=1e-6)
            got[f"{head}_accuracy"] = float((values.argmax(1) == dev.labels).mean())
    final = record["final"]
    assert got == pytest.approx({k: final[k] for k in got}, abs=1e-5, nan_ok=True)  # NaN: constant scores, both ways


def test_a_multitask_run_of_the_earlier_runner_predicts_as_a_new_one(finished, tmp_path):
    """Records of experiments/multitask.py before the one runner: a config without "model" or "task"."""
    new_dir, old_dir = finished("multitask"), tmp_path / "mt-uvcos-mean-mean-s0-0123abcd"
    shutil.copytree(new_dir, old_dir)
    record = json.loads((old_dir / "run.json").read_text())
    config = record["config"]
    old = {k: config[k] for k in ("encoder", "data", "epochs", "batch_size", "lr", "max_length", "max_dev_examples",
                                  "seed", "split_seed", "pcgrad", "gse", "smart", "sts_head", "pooling",
                                  "loss_reduction", "cfimdb", "kl_consistency", "head_dropout", "tensorboard")}
    record["config"] = {**old, "max_examples_per_task": config["max_examples"], "out": str(tmp_path), "name": None}
    for key in ("task", "test", "prepared", "calibration_val", "best_epoch"):
        record.pop(key)
    (old_dir / "run.json").write_text(json.dumps(record))
    (tmp_path / "pairs.tsv").write_text("a\tb\nA man plays a guitar.\tA man plays music.\nA cat.\tThe stock fell.\n")
    for run_dir, out in ((new_dir, tmp_path / "new.csv"), (old_dir, tmp_path / "old.csv")):
        assert predict_cli("--run", run_dir, "--input", tmp_path / "pairs.tsv", "--text-column", "a",
                           "--pair-column", "b", "--head", "sts", "--out", out) == 0
    assert read_csv(tmp_path / "old.csv") == read_csv(tmp_path / "new.csv")
    assert read_csv(tmp_path / "old.csv")[0] == ["id", "score"]


def test_old_records_and_recorded_tasks(finished, tmp_path):
    from minion_tf.runs.predict import run_task

    run_dir = tmp_path / "run"
    shutil.copytree(finished("fasttext"), run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    record.pop("task", None)  # a run made before run.json carried its task
    (run_dir / "run.json").write_text(json.dumps(record))
    old = run_task(run_dir)
    assert (old.labels, old.pair) == (("negative", "positive"), False)
    assert old.normalised(["@bob loving #ilovethislab"]) == ["<user> loving i love this lab"]  # stats.json's flags
    record["task"] = {"name": "tweets", "labels": ["neg", "pos"], "pair": False,
                      "normalise": {"split_hashtags": False, "anonymise": False}}
    (run_dir / "run.json").write_text(json.dumps(record))
    new = run_task(run_dir)
    assert new.labels == ("neg", "pos") and new.normalised(["@bob  #ilovethislab"]) == ["@bob #ilovethislab"]
    (tmp_path / "new.txt").write_text("great fun\nawful day #sad\n")
    assert predict_cli("--run", run_dir, "--input", tmp_path / "new.txt", "--out", tmp_path / "p.csv") == 0
    assert read_csv(tmp_path / "p.csv")[0] == ["id", "label", "p_neg", "p_pos"]


@pytest.fixture
def no_model_loads(monkeypatch):
    from minion_tf.runs import predict

    def refuse(*args):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(predict, "load_predictor", refuse)


@pytest.mark.parametrize("run, files, flags, message", [
    ("fasttext", {"t.tsv": "text\tlabel\ngood\t1\n"}, ["--text-column", "tweet"],
     "t.tsv:1: no column 'tweet'; found columns 'text', 'label'"),
    ("fasttext", {"t.txt": "good\n \nbad\n"}, [], "t.txt:2: empty text"),
    ("fasttext", {"t.csv": "text,x\ngood,1\n,2\n"}, ["--text-column", "text"], "t.csv:3: empty text in column 'text'"),
    ("fasttext", {"t.txt": b"good\nbad \xff\n"}, [], "t.txt:2: byte 0xff is not UTF-8"),
    ("fasttext", {"t.csv": "text\ngood\n"}, [], "t.csv: a table; name the column of its texts with --text-column"),
    (None, {"t.txt": "good\n"}, [], "no run.json (not a finished run)"),
    ("stsb", {"t.tsv": "a\tb\nx\ty\n"}, ["--text-column", "a"], "trained on sentence pairs (stsb)"),
    ("fasttext", {"t.tsv": "a\tb\nx\ty\n"}, ["--text-column", "a", "--pair-column", "b"],
     "trained on single texts (tweets); drop --pair-column"),
    ("multitask", {"t.txt": "good\n"}, ["--head", "cfimdb"], "unknown --head 'cfimdb'; choose one of sst, para, sts"),
    ("multitask", {"t.txt": "good\n"}, [], "a multi-task run, no --head"),
    ("fasttext", {"t.txt": "good\n"}, ["--head", "sst"], "--head is for multi-task runs"),
])
def test_bad_input_is_one_line_before_any_model_loads(run, files, flags, message, finished, tmp_path, capsys,
                                                      no_model_loads):
    for name, body in files.items():
        (tmp_path / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    run_dir = finished(run) if run else tmp_path
    assert predict_cli("--run", run_dir, "--input", tmp_path / name, *flags, "--out", tmp_path / "p.csv") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("change, message", [
    (lambda lines: lines[:-1], "test_data.txt: 9999 lines, expected 10000"),
    (lambda lines: lines[:4] + [lines[5], lines[4]] + lines[6:], "test_data.txt:5: id 6, expected 5"),
])
def test_submit_checks_test_data_before_any_model_loads(change, message, finished, shared_data, tmp_path, capsys,
                                                        no_model_loads):
    lines = (shared_data / "cil_test" / "test_data.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "test_data.txt").write_text("\n".join(change(lines)) + "\n", encoding="utf-8")
    run_dir = finished("fasttext")
    assert _script("submit").main(["--run", str(run_dir), "--test-data", str(tmp_path / "test_data.txt"),
                                   "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "s.csv").exists()
