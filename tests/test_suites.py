"""The run lists behind results/glue and results/imdb: what each suite runs, with distinct run folders."""
from collections import Counter

from minion_tf.runs.suites import GLUE_TASKS, glue_suite, imdb_suite, tweet_suite
from scripts import load_script


def test_glue_suite_runs_full_and_every_last_k_at_both_rates_plus_every_glue_method(tmp_path):
    configs = glue_suite({"out": str(tmp_path), "max_examples": 400})
    assert len(configs) == len(GLUE_TASKS) * 15 and len({c.run_dir() for c in configs}) == len(configs)
    rte = [c for c in configs if c.task == "rte"]
    pairs = Counter((c.label(), c.resolved_lr()) for c in rte)
    for label in ("finetune", "freeze-1", "freeze-2", "freeze-3", "freeze-4"):
        assert pairs[(label, 2e-5)] == pairs[(label, 1e-3)] == 1
    assert {label for label, _ in pairs} - {"finetune", "freeze-1", "freeze-2", "freeze-3", "freeze-4"} == {
        "bitfit", "prompt-20", "minion-64", "lora-8", "lst-8"}
    assert all(c.resolved_patience() == 2 and c.max_examples == 400 for c in rte)


def test_imdb_suite_runs_the_ucsd_methods_lora_lst_and_minion_at_both_splits_without_early_stopping(tmp_path):
    configs = imdb_suite({"out": str(tmp_path), "epochs": 10})
    ucsd = ("finetune", "embeddings-only", "encoder-only", "prompt", "bitfit")
    assert sorted((c.model, c.train_fraction) for c in configs) == sorted(
        (m, f) for m in (*ucsd, "lora", "lst", "minion") for f in (0.9, 0.3))
    assert len({c.run_dir() for c in configs}) == 16
    assert all(c.resolved_patience() == 0 and c.epochs == 10 for c in configs)


def test_tweet_suite_runs_the_core_comparison_first_then_the_other_h_then_the_other_baselines(tmp_path):
    configs = tweet_suite({"out": str(tmp_path), "max_examples": None})
    labels = [c.label() for c in configs]
    assert labels == ["fasttext", "finetune", "read-64", "minion-64", "read-8", "minion-8",
                      "read-256", "minion-256", "lora-8", "lst-8"]
    assert len({c.run_dir() for c in configs}) == 10 and all(c.task == "tweets" and c.max_examples is None
                                                             for c in configs)


def test_glue_suite_seeds_only_the_chosen_runs_of_the_first_arm_in_a_last_pass(tmp_path):
    seeded = ("finetune", "freeze-4", "freeze-2", "bitfit", "lora-8", "minion-64")
    configs = glue_suite({"out": str(tmp_path), "seeds": 2}, tasks=("rte", "mrpc"), seeded=seeded)
    once = glue_suite({"out": str(tmp_path)}, tasks=("rte", "mrpc"))
    assert configs[:len(once)] == once  # every run with one seed first, in the same order
    last = configs[len(once):]
    assert [(c.task, c.label(), c.seeds) for c in last] == [(t, m, 2) for t in ("rte", "mrpc") for m in seeded]
    assert all(c.resolved_lr() == 2e-5 for c in last if c.model in ("finetune", "freeze"))  # not the 1e-3 arm
    assert {c.run_dir() for c in last} <= {c.run_dir() for c in once}  # the first seed is the same run
    every = glue_suite({"out": str(tmp_path), "seeds": 2}, tasks=("rte",))
    assert len(every) == 2 * 15 and all(c.seeds == 2 for c in every[15:])


def test_glue_suite_runs_only_the_chosen_runs_at_the_high_rate_and_keeps_the_first_arm_whole(tmp_path):
    whole = glue_suite({"out": str(tmp_path)}, tasks=("rte", "mrpc"))
    capped = glue_suite({"out": str(tmp_path)}, tasks=("rte", "mrpc"), high_lr=("finetune", "freeze-4", "freeze-2"))
    first = len(whole) - 2 * 5  # the 1e-3 arm: full and last-1..4 on each task
    assert capped[:first] == whole[:first]
    assert [(c.task, c.label(), c.resolved_lr()) for c in capped[first:]] == [
        (t, m, 1e-3) for t in ("rte", "mrpc") for m in ("finetune", "freeze-4", "freeze-2")]


def test_suites_pass_each_run_only_the_fields_it_takes_and_refuse_unknown_seeded_labels(tmp_path):
    import pytest

    from minion_tf.errors import MinionError

    configs = tweet_suite({"out": str(tmp_path), "precision": "bfloat16", "strategy": "mirrored",
                           "cache_dtype": "int8", "cache_layers": "6,0"})
    assert [(c.precision, c.strategy) for c in configs if c.model == "fasttext"] == [("float32", "none")]
    assert {(c.precision, c.strategy) for c in configs if c.model != "fasttext"} == {("bfloat16", "mirrored")}
    sides = {"read", "minion", "lst"}
    assert {(c.cache_dtype, c.cache_layers) for c in configs if c.model in sides} == {("int8", "0,6")}
    assert {(c.cache_dtype, c.cache_layers) for c in configs if c.model not in sides} == {("float16", None)}
    glue = glue_suite({"out": str(tmp_path), "cache_dtype": "int8"}, tasks=("rte",))
    assert {c.model for c in glue if c.cache_dtype == "int8"} == {"minion", "lst"}
    with pytest.raises(MinionError, match="--seeded minion64: not one of the GLUE suite's runs it can choose"):
        glue_suite({"out": str(tmp_path)}, tasks=("rte",), seeded=("finetune", "minion64"))
    with pytest.raises(MinionError, match=r"--high-lr bitfit: .* \(finetune, freeze-4, freeze-3, freeze-2, freeze-1\)"):
        glue_suite({"out": str(tmp_path)}, tasks=("rte",), high_lr=("freeze-4", "bitfit"))


def _transfer(monkeypatch):
    """experiments/transfer.py with its runs and report recorded instead of made."""
    module = load_script("experiments/transfer.py", "transfer")
    ran = []
    monkeypatch.setattr(module, "run_isolated", ran.append)
    monkeypatch.setattr(module, "build_task_report", lambda runs, out: [])
    return module, ran


def test_transfer_patience_reaches_every_imdb_run_and_leaves_the_glue_run_folders_as_they_were(tmp_path, monkeypatch):
    transfer, ran = _transfer(monkeypatch)
    out = ["--out", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]
    assert transfer.main(["imdb", "--epochs", "10", "--patience", "2", *out]) == 0
    assert len(ran) == 16 and all(c.resolved_patience() == 2 and c.epochs == 10 for c in ran)
    ran.clear()
    assert transfer.main(["glue", "--tasks", "rte", "--max-examples", "400", *out]) == 0
    before = glue_suite({"out": str(tmp_path / "runs"), "max_examples": 400, "epochs": 4, "batch_size": 32,
                         "max_length": 128, "encoder": "minilm"}, tasks=("rte",))
    assert [c.run_dir() for c in ran] == [c.run_dir() for c in before]
