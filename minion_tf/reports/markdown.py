"""Tables of run results written twice, as Markdown (to read) and CSV (to load), atomically.

An interval is kept numeric in the CSV, a column for each bound (and one for its estimate), and
shown as one cell in the Markdown: "[78.2, 81.7]", or "+1.2 [-0.3, +2.6]" for a difference.

Example:
    >>> write_table([{"model": "MINION-64", "accuracy %": 80.1}], Path("results/table2"))
    # results/table2.md and results/table2.csv
    >>> write_table(rows, Path("results/table2"), joined={"accuracy 95% CI": ("accuracy % low", "accuracy % high")})
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


def interval_cell(values) -> str | None:
    """(low, high) as "[78.2, 81.7]", (estimate, low, high) as "+1.2 [-0.3, +2.6]"; None if one is missing.

    Example:
        >>> interval_cell((1.23, -0.3, 2.6)), interval_cell((78.2, None))
        ('+1.2 [-0.3, +2.6]', None)
    """
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    if len(values) == 2:
        return f"[{values[0]:.1f}, {values[1]:.1f}]"
    estimate, low, high = values
    return f"{estimate:+.1f} [{low:+.1f}, {high:+.1f}]"


def join_columns(rows: list[dict], columns: list[str], joined: dict) -> tuple[list[dict], list[str]]:
    """Rows and columns with each `joined` name's columns shown as one interval cell, where the first one stood.

    Example:
        >>> join_columns([{"a": 1, "lo": 0.5, "hi": 1.5}], ["a", "lo", "hi"], {"a CI": ("lo", "hi")})
        ([{'a': 1, 'lo': 0.5, 'hi': 1.5, 'a CI': '[0.5, 1.5]'}], ['a', 'a CI'])
    """
    first = {parts[0]: name for name, parts in joined.items()}
    hidden = {c for parts in joined.values() for c in parts}
    shown = [first.get(c, c) for c in columns if c in first or c not in hidden]
    rows = [{**r, **{name: interval_cell(tuple(r.get(c) for c in parts)) for name, parts in joined.items()}}
            for r in rows]
    return rows, shown


def markdown(rows: list[dict], columns: list[str]) -> str:
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(rows: list[dict], stem: Path, columns: list[str] | None = None, note: str = "",
                joined: dict | None = None) -> list[Path]:
    """`stem.md` (with `note` under the table) and `stem.csv` (raw values; NaN left empty).

    `joined` maps a Markdown column to the CSV columns it shows as one interval cell (`interval_cell`).
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if columns is None:
        columns = list(rows[0]) if rows else []
    shown_rows, shown = join_columns(rows, columns, joined or {})
    write_text(stem.with_suffix(".md"), markdown(shown_rows, shown) + (f"\n{note.strip()}\n" if note else ""))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if cell(row.get(c)) == "—" else row.get(c) for c in columns])
    write_text(stem.with_suffix(".csv"), buffer.getvalue())
    return [stem.with_suffix(".md"), stem.with_suffix(".csv")]
