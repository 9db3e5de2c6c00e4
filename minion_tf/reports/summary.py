"""The one-screen summary that opens results/README.md: every paper's verdicts and the cost ratios, read
from the claims and cost tables the reports wrote (their CSVs), with links to them.

A claim judged on several tasks or scales is one line: which tasks it holds on, fails on, or cannot
tell. The block sits between two markers in the README, and rewriting it leaves the rest alone.

Example:
    >>> write_summary(Path("results"))        # results/README.md opens with the summary
"""
from __future__ import annotations

import csv
from pathlib import Path

from minion_tf.errors import MinionError
from minion_tf.io import write_text
from minion_tf.reports.claims import FAILS, HOLDS, UNSURE

START, END = "<!-- summary: written by experiments/summary.py; edit below the end marker -->", "<!-- summary end -->"
SOURCES = (  # (title, claims CSV under results/, the table it links)
    ("ETH MINION paper, tweets", "claims.csv", "table2.md"),
    ("Pittsburgh report, GLUE", "glue/claims.csv", "glue/task_scores.md"),
    ("UCSD report, IMDb", "imdb/claims.csv", "imdb/task_scores.md"),
    ("CS224N reports, multi-task minBERT", "multitask_claims.csv", "multitask_ablation.md"),
)
COST = "cost_at_scale.csv"


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def claim_lines(rows: list[dict]) -> list[str]:
    """One line per claim: its verdicts, grouped over the tasks or scales it was judged on.

    Example:
        >>> claim_lines([{"claim": "rte: last-4 within 2.4 points", "verdict": "holds", "numbers": "..."},
        ...              {"claim": "cola: last-4 within 2.4 points", "verdict": "cannot tell at this scale"}])
        ['- last-4 within 2.4 points: **holds** on rte; cannot tell on cola']
    """
    grouped: dict = {}
    for row in rows:
        numbers = row.get("numbers") or ""
        where, _, claim = row["claim"].rpartition(": ") if ": " in row["claim"] else ("", "", row["claim"])
        grouped.setdefault(claim, []).append((where, row["verdict"], numbers))
    lines = []
    for claim, found in grouped.items():
        if len(found) == 1 and not found[0][0]:  # judged once: the verdict and its numbers
            numbers = found[0][2].split("; ")[0]
            lines.append(f"- {claim}: **{found[0][1]}**" + (f" ({numbers})" if numbers else ""))
            continue
        parts = []
        for outcome, word in ((HOLDS, "**holds**"), (FAILS, "**does not hold**"), (UNSURE, "cannot tell")):
            places = [where or numbers.rpartition("; ")[2] for where, verdict, numbers in found if verdict == outcome]
            if places:
                parts.append(f"{word} on {', '.join(places)}")
        lines.append(f"- {claim}: " + "; ".join(parts))
    return lines


def cost_lines(rows: list[dict]) -> list[str]:
    """The cost ratios against full fine-tuning as a small table, one row per method and scale."""
    def f(value: str) -> str:
        return f"{float(value):.2f}" if value not in ("", None) else "—"

    lines = ["| method | scale | whole run ÷ FT | epoch ÷ FT | private peak ÷ FT |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['encoder']}, {r['train n']} train | {f(r['whole run s ÷ FT'])} | "
              f"{f(r['epoch s ÷ FT'])} | {f(r['peak private GiB ÷ FT'])} |" for r in rows]
    return lines


def summary_lines(results: Path) -> list[str]:
    """The summary block's lines (markers included) from the CSVs found under `results`."""
    results = Path(results)
    lines = [START, "## Summary", "",
             "Verdicts on the papers' claims from our runs: **holds**, **does not hold** or cannot tell (at this "
             "scale), each from a 95 % paired bootstrap interval; the numbers, scales and commands are in the "
             "linked tables."]
    for title, claims, table in SOURCES:
        if (results / claims).is_file():
            lines += ["", f"**{title}** ([claims]({claims.replace('.csv', '.md')}), [scores]({table})):",
                      *claim_lines(_read(results / claims))]
        else:
            lines += ["", f"**{title}**: not run yet."]
    if (results / COST).is_file():
        lines += ["", f"**Cost against full fine-tuning** ([table]({COST.replace('.csv', '.md')}); a cache build "
                  "charged to every run that read it; single measurements, the machine in the table's note):", "",
                  *cost_lines(_read(results / COST))]
    return [*lines, END]


def write_summary(results: Path) -> Path:
    """Put the summary at the top of `results/README.md` (replacing an earlier one); return its path."""
    path = Path(results) / "README.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if (START in text) != (END in text):
        raise MinionError(f"{path}: one summary marker without the other; restore or delete it")
    before, after = "", text
    if START in text:
        before, after = text[:text.index(START)], text[text.index(END) + len(END):].lstrip("\n")
    write_text(path, before + "\n".join(summary_lines(results)) + "\n\n" + after)
    return path
