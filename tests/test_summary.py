"""The one-screen summary at the top of results/README.md (reports.summary), from claims and cost CSVs."""
from pathlib import Path

from minion_tf.reports.markdown import write_table
from minion_tf.reports.summary import END, START, claim_lines, write_summary


def _claims(path: Path, rows: list[tuple[str, str, str]]) -> None:
    write_table([{"claim": c, "verdict": v, "numbers": n} for c, v, n in rows], path)


def test_claims_judged_on_several_tasks_are_one_line_each():
    rows = [{"claim": "rte: last-4 within 2.4 points", "verdict": "holds", "numbers": ""},
            {"claim": "mrpc: last-4 within 2.4 points", "verdict": "does not hold", "numbers": ""},
            {"claim": "cola: last-4 within 2.4 points", "verdict": "cannot tell at this scale", "numbers": ""},
            {"claim": "rte: full FT at lr 2e-5 better than at 1e-3", "verdict": "holds", "numbers": ""},
            {"claim": "+ PCGrad scores above the baseline", "verdict": "holds",
             "numbers": "pcgrad - baseline: +1.0 [+0.2, +1.8] pts score; dev n: sst 1101"}]
    assert claim_lines(rows) == [
        "- last-4 within 2.4 points: **holds** on rte; **does not hold** on mrpc; cannot tell on cola",
        "- full FT at lr 2e-5 better than at 1e-3: **holds** on rte",
        "- + PCGrad scores above the baseline: **holds** (pcgrad - baseline: +1.0 [+0.2, +1.8] pts score)"]


def test_summary_opens_the_readme_and_replaces_itself(tmp_path):
    (tmp_path / "README.md").write_text("Hand-written notes.\n")
    _claims(tmp_path / "imdb" / "claims", [("(a) a claim judged at two scales", "holds", "x; MiniLM-L6, n = 800 train"),
                                           ("(a) a claim judged at two scales", "cannot tell at this scale",
                                            "y; MiniLM-L6, n = 16000 train")])
    _claims(tmp_path / "claims", [("(a) MINION-64 accuracy within 1 point of full fine-tuning", "holds",
                                   "MINION-64 - full FT: -0.4 [-0.9, +0.1] pts accuracy; MiniLM-L6, n = 70761 train")])
    write_table([{"model": "MINION-64", "encoder": "MiniLM-L6", "train n": 70761, "whole run s ÷ FT": 0.2512,
                  "epoch s ÷ FT": 0.13, "peak private GiB ÷ FT": None}], tmp_path / "cost_at_scale")
    write_summary(tmp_path)
    first = (tmp_path / "README.md").read_text()
    assert first.startswith(START + "\n## Summary") and first.endswith(END + "\n\nHand-written notes.\n")
    assert ("- (a) MINION-64 accuracy within 1 point of full fine-tuning: **holds** (MINION-64 - full FT: -0.4 "
            "[-0.9, +0.1] pts accuracy)") in first
    assert "**Pittsburgh report, GLUE**: not run yet." in first
    assert ("- (a) a claim judged at two scales: **holds** on MiniLM-L6, n = 800 train; cannot tell on MiniLM-L6, "
            "n = 16000 train") in first
    assert "| MINION-64 | MiniLM-L6, 70761 train | 0.25 | 0.13 | — |" in first
    _claims(tmp_path / "glue" / "claims", [("rte: last-4 within 2.4 points of full fine-tuning", "holds", "")])
    (tmp_path / "README.md").write_text("Above.\n" + first)  # text above the block stays too
    write_summary(tmp_path)
    second = (tmp_path / "README.md").read_text()
    assert second.count(START) == 1 and second.startswith("Above.\n" + START)
    assert second.endswith(END + "\n\nHand-written notes.\n")
    assert "- last-4 within 2.4 points of full fine-tuning: **holds** on rte" in second
