"""Tables of run results written twice, as Markdown (to read) and CSV (to load), atomically.

Example:
    >>> write_table([{"model": "MINION-64", "accuracy %": 80.1}], Path("results/table2"))
    # results/table2.md and results/table2.csv
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from minion_tf.io import write_text


def cell(value) -> str:
    """How a value shows in a table: floats with 4 significant digits, NaN/None as an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(rows: list[dict], columns: list[str]) -> str:
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(rows: list[dict], stem: Path, columns: list[str] | None = None, note: str = "") -> list[Path]:
    """`stem.md` (with `note` under the table) and `stem.csv` (raw values; NaN left empty)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if columns is None:
        columns = list(rows[0]) if rows else []
    write_text(stem.with_suffix(".md"), markdown(rows, columns) + (f"\n{note.strip()}\n" if note else ""))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if cell(row.get(c)) == "—" else row.get(c) for c in columns])
    write_text(stem.with_suffix(".csv"), buffer.getvalue())
    return [stem.with_suffix(".md"), stem.with_suffix(".csv")]
