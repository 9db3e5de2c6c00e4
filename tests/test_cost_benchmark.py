"""benchmarks/cost.py on fake measurements: derived figures, ratios, break-even, steps.py parsing,
the report and figure from saved JSON, resuming after an interruption (nothing is run)."""
import math
from itertools import accumulate
from pathlib import Path

import pytest

from minion_tf.io import write_json
from scripts import load_script


def _load():
    return load_script("benchmarks/cost.py", "cost_benchmark")


cost = _load()

STEPS_OUTPUT = """minilm: batch 256 x 31 tokens (5579 real), 7 alternations, all intra-op threads
step                                         wall s    cpu s  ÷ forward  cpu ÷ fwd  arithmetic
encoder forward (all states)                  1.410    2.700       1.00       1.00        1.00
finetune train step                           4.840    9.500       3.43       3.52        3.00
read 64 train step                            0.260    0.500       0.18       0.19        0.05
minion 64 train step                          0.500    0.950       0.35       0.35        0.25
lora 8 train step                             3.100    6.100       2.20       2.26
"""


def fake_run(encoder="minilm", size=2000, method="minion", *, startup=10.0, cache=0.0, epochs=(30.0, 20.0),
             test=2.0, private=(0.5, 1.0, 3.0, 3.0), target=None, streaming=False, accuracy=0.8):
    """A saved measurement as `cost.measure` writes it (only the fields the report reads)."""
    model, options, no_cache, label = cost.METHODS[method]
    target = target or len(epochs)
    memory = {phase: {"private_peak_gib": p, "uss_peak_gib": p, "rss_peak_gib": p + 0.5}
              for phase, p in zip(("startup", "cache", "train", "test"), private)}
    return {"kind": "run", "label": label, "started": "2026-01-01T00:00:00+00:00", "git_commit": "abc123",
            "setting": {"encoder": encoder, "size": size, "method": method, "model": model, "options": options,
                        "no_cache": no_cache, "max_examples": cost.max_examples_for(size), "epochs_target": target,
                        "epochs_run": len(epochs), "batch_size": 256, "seed": 0, "tokenizer": None, "data": None,
                        "cache_budget_gb": 20.0},
            "phases_s": {"startup": startup, "cache": cache, "train": sum(epochs) + 1.0, "test": test,
                         "finish": 0.5, "interpreter": 0.05},
            "epoch_s": [e - 0.1 for e in epochs], "epoch_elapsed_s": list(accumulate(epochs)),
            "memory": memory, "accuracy": accuracy, "data": {"train": size, "val": size // 8, "test": size // 8},
            "streaming": streaming, "load_before": [1.0, 1.0, 1.0], "load_after": [1.5, 1.0, 1.0],
            "machine": {"nproc": 2, "cpu": "Fake CPU", "ram_gib": 23.5}, "process_s": 100.0, "cpu_s": 190.0}


def test_derived_figures_are_marginal_epochs_and_phases_summed():
    d = cost.derive(fake_run(startup=10, cache=5, epochs=(30, 20, 21), test=2))
    assert d["epochs"] == pytest.approx([30, 20, 21]) and d["steady_epoch_s"] == pytest.approx(20)
    assert d["train_s"] == pytest.approx(72) and not d["extrapolated"]
    assert d["whole_s"] == pytest.approx(10 + 5 + 72 + 2) == d["whole_measured_s"]
    assert d["private_peak_gib"] == 3.0 and d["rss_peak_gib"] == 3.5 and d["private_train_gib"] == 3.0


def test_fewer_epochs_than_the_target_are_extrapolated_by_the_second_epoch():
    d = cost.derive(fake_run(epochs=(30, 20), target=5, startup=10, test=2))
    assert d["extrapolated"] and (d["epochs_run"], d["epochs_target"]) == (2, 5)
    assert d["train_s"] == pytest.approx(51 + 3 * 20)
    assert d["whole_s"] == pytest.approx(10 + 111 + 2) and d["whole_measured_s"] == pytest.approx(63)
    one = cost.derive(fake_run(epochs=(30,), target=1))
    assert one["steady_is_first"] and one["steady_epoch_s"] == 30


def test_ratios_to_full_fine_tuning():
    full = cost.derive(fake_run(method="finetune", startup=10, epochs=(100, 98), test=2, private=(1, 1, 8, 8)))
    side = cost.derive(fake_run(method="minion", startup=10, cache=20, epochs=(12, 9.8), test=1,
                                private=(1, 2, 1.5, 1.5)))
    r = cost.ratios(side, full)
    assert r["whole"] == pytest.approx((10 + 20 + 22.8 + 1) / (10 + 199 + 2))
    assert r["epoch"] == pytest.approx(0.1)
    assert r["private_peak"] == pytest.approx(2 / 8) and r["private_train"] == pytest.approx(1.5 / 8)
    assert not r["extrapolated"]
    longer = cost.derive(fake_run(method="finetune", epochs=(100, 98), target=5))
    assert cost.ratios(side, longer)["extrapolated"]


def test_break_even_epochs_of_the_cache():
    cached = cost.derive(fake_run(cache=30, epochs=(5, 2)))
    streamed = cost.derive(fake_run(method="minion-stream", epochs=(15, 12), streaming=True))
    assert cost.break_even(cached, streamed) == pytest.approx(3.0)
    assert cost.break_even(cached, cost.derive(fake_run(epochs=(2, 2)))) == math.inf
    assert cost._f(math.inf) == "never"


def test_steps_output_is_parsed_into_ratios_to_the_fine_tuning_step():
    rows = cost.parse_steps("/usr/bin/python benchmarks/steps.py --repeats 7\n" + STEPS_OUTPUT)
    assert [r["method"] for r in rows] == ["encoder", "finetune", "read", "minion", "lora"]
    assert rows[2]["per_forward"] == 0.18 and rows[4]["arithmetic"] is None
    ratios = cost.step_ratios({"rows": rows})
    assert ratios["minion"]["per_finetune"] == pytest.approx(0.35 / 3.43)
    assert ratios["finetune"]["per_finetune"] == 1.0
    assert cost.steps_command("random:vinai/bertweet-base", ["read"], 3, None)[2:5] == [
        "--encoder", "vinai/bertweet-base", "--random-weights"]


def test_phases_of_a_child_start_at_process_start():
    child = {"timings": {"cache_s": 20.0, "train_s": 50.0, "test_s": 3.0}, "child_start": 100.5,
             "marks": {"startup": 101.0, "cache": 108.0, "train": 131.0, "test": 181.5}, "returned": 186.0}
    phases = cost.phases_of(child, spawned=100.0)
    assert phases["startup"] == pytest.approx(31 - 20) and phases["cache"] == 20
    assert phases["finish"] == pytest.approx(186 - 181.5 - 3) and phases["interpreter"] == pytest.approx(0.5)


def saved_curve(out: Path) -> None:
    out.mkdir(parents=True)
    for encoder, target in (("minilm", None), ("random:vinai/bertweet-base", 5)):
        for size in (2000, 8000):
            k = size / 2000
            runs = {"finetune": fake_run(encoder, size, "finetune", epochs=(100 * k, 95 * k), target=target,
                                         private=(1, 1, 8, 8)),
                    "read": fake_run(encoder, size, "read", cache=10 * k, epochs=(8 * k, 4 * k), target=target,
                                     private=(1, 2, 1, 1)),
                    "minion": fake_run(encoder, size, "minion", cache=10 * k, epochs=(12 * k, 8 * k), target=target),
                    "minion-stream": fake_run(encoder, size, "minion-stream", epochs=(25 * k, 20 * k), target=target,
                                              streaming=True)}
            for method, m in runs.items():
                write_json(out / f"{cost.run_name(encoder, size, method)}.json", m)
    write_json(out / "steps-minilm.json", {"kind": "steps", "encoder": "minilm", "rows": cost.parse_steps(STEPS_OUTPUT),
                                           "command": ["python", "benchmarks/steps.py"], "started": "2026-01-01", "git_commit": "abc123",
                                           "load_before": [1, 1, 1], "load_after": [1, 1, 1]})
    write_json(out / "startup-minilm.json", {"kind": "startup", "encoder": "minilm", "batch": [256, 31],
                                             "real_tokens": 5000, "started": "2026-01-01", "git_commit": "abc123", "load_before": [1, 1, 1],
                                             "load_after": [1, 1, 1],
                                             "rows": [{"what": "import tensorflow", "s": 2.5}]})


def test_report_only_rebuilds_tables_and_figure_from_the_saved_json(tmp_path, capsys):
    out = tmp_path / "cost"
    saved_curve(out)
    (out / ".tmp-1-ab.minilm-2000-lst.json").write_text("{half")  # a write in progress is not read
    report, figure = tmp_path / "cost_curve.md", tmp_path / "cost_curve.png"
    assert cost.main(["--report-only", "--out", str(out), "--report", str(report), "--figure", str(figure)]) == 0
    text = report.read_text()
    assert text == capsys.readouterr().out.split("wrote ")[0].rstrip("\n") + "\n"
    assert "## minilm" in text and "## random:vinai/bertweet-base" in text
    assert text.index("## minilm") < text.index("## random:vinai/bertweet-base")
    assert "2 run, extrapolated to 5" in text and "(extrapolated)" in text and "after 2 epochs" in text
    minilm = text[text.index("## minilm"):text.index("## random:")]
    assert "(extrapolated)" not in minilm
    # MINION at 2000: whole (10 + 10 + 21 + 2) / (10 + 196 + 2); 2nd epoch 8 / 95; break-even 10 / (20 - 8)
    assert f"| MINION-64 | 2000 | {43 / 208:.3f} | {8 / 95:.3f} | {3 / 8:.3f} |" in minilm
    assert f"| 2000 | 10.0 | 8.0 | 20.0 | {10 / 12:.2f} |" in minilm
    assert "| minion 64 train step | 0.500 |" in minilm and f"{0.35 / 3.43:.3f}" in minilm
    assert "Machine: nproc 2, Fake CPU" in text and "Package commit: abc123" in text
    assert "| import tensorflow | 2.50 |" in text
    assert figure.is_file() and figure.read_bytes()[:4] == b"\x89PNG"
    assert f"![ratio against train size]({figure.name})" in text


def test_report_only_without_measurements_is_one_line(tmp_path, capsys):
    assert cost.main(["--report-only", "--out", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'none'}: no measurements to report"


def test_an_interrupted_curve_resumes_with_what_is_missing(tmp_path, monkeypatch):
    out = tmp_path / "cost"
    measured, interrupt = [], {"at": 2}

    def fake_measure(args, encoder, size, method, path):
        if len(measured) == interrupt["at"]:
            interrupt["at"] = None
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third run: nothing of it is saved
        measured.append((encoder, size, method))
        m = fake_run(encoder, size, method, target=args.epochs)
        m["setting"] = cost.setting(args, encoder, size, method)
        write_json(path, m)
        return m

    monkeypatch.setattr(cost, "measure", fake_measure)
    argv = ["--encoders", "minilm", "--sizes", "400,800", "--methods", "finetune,minion", "--epochs", "2",
            "--no-steps", "--no-startup", "--out", str(out), "--report", str(tmp_path / "r.md"),
            "--figure", str(tmp_path / "r.png")]
    with pytest.raises(KeyboardInterrupt):
        cost.main(argv)
    assert measured == [("minilm", 400, "finetune"), ("minilm", 400, "minion")]
    assert sorted(p.name for p in out.glob("*.json")) == ["minilm-400-finetune.json", "minilm-400-minion.json"]
    assert cost.main(argv) == 0
    assert measured[2:] == [("minilm", 800, "finetune"), ("minilm", 800, "minion")]  # only what was missing
    assert cost.main(argv) == 0 and len(measured) == 4  # all there: nothing is run again
    assert "| MINION-64 | 800 |" in (tmp_path / "r.md").read_text()


def test_a_saved_measurement_of_other_settings_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "cost"
    out.mkdir()
    write_json(out / "minilm-400-minion.json", fake_run("minilm", 400, "minion", epochs=(3, 2, 2)))
    argv = ["--encoders", "minilm", "--sizes", "400", "--methods", "minion", "--epochs", "5", "--no-steps",
            "--no-startup", "--out", str(out), "--report", str(tmp_path / "r.md"), "--figure", str(tmp_path / "r.png")]
    assert cost.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "minilm-400-minion.json was measured with epochs_target 3, not 5" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv,message", [
    (["--methods", "finetune,nope"], "--methods: unknown 'nope'"),
    (["--sizes", "2k"], "--sizes '2k': expected comma-separated train sizes"),
    (["--measured-epochs", "minilm=1"], "--measured-epochs minilm=1: at least 2"),
    (["--measured-epochs", "minilm"], "--measured-epochs 'minilm': expected ENCODER=VALUE"),
    (["--tokenizer", "random:vinai/bertweet-base=/no/such/dir"], "/no/such/dir does not exist"),
])
def test_bad_arguments_are_one_line(argv, message, capsys, tmp_path):
    assert cost.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_settings_and_names():
    args = cost.parse(["--sizes", "2000,8000", "--sizes-for", "random:vinai/bertweet-base=2000"])
    assert args.sizes == {"minilm": [2000, 8000], "random:vinai/bertweet-base": [2000]}
    assert args.measured_epochs == {"random:vinai/bertweet-base": 2}
    assert args.tokenizers["random:vinai/bertweet-base"].endswith("shared/data/bertweet_tokenizer")
    s = cost.setting(args, "random:vinai/bertweet-base", 2000, "minion-stream")
    assert (s["epochs_run"], s["epochs_target"], s["max_examples"], s["no_cache"]) == (2, 5, 2500, True)
    assert cost.setting(args, "minilm", 8000, "lora")["options"] == {"rank": 8}
    assert cost.parse(["--measured-epochs", "random:vinai/bertweet-base=0"]).measured_epochs == {}
    assert cost.parse([]).sizes == {"minilm": [2000, 8000, 32000], "random:vinai/bertweet-base": [2000, 8000]}
    assert cost.parse(["--sizes", "400"]).sizes == {"minilm": [400], "random:vinai/bertweet-base": [400]}
    assert cost.run_name("random:vinai/bertweet-base", 2000, "lst") == "random_vinai_bertweet-base-2000-lst"
    plan = cost.plan(cost.parse(["--encoders", "minilm", "--sizes", "400", "--methods", "finetune,minion-stream"]))
    assert plan == [("startup", None, None, None), ("steps", "minilm", None, None),
                    ("run", "minilm", 400, "finetune"), ("run", "minilm", 400, "minion-stream")]
