"""Everything a tweet suite reports, from its run folder: Tables I-II and Fig. 3 (`tables`), the verdicts
on the ETH paper's claims (`claims`) and the cost against full fine-tuning (`cost_table`).

Example:
    >>> build_tweet_reports(Path("runs/tweets"), Path("results"))   # table1, table2, claims, cost_at_scale, ...
"""
from __future__ import annotations

from pathlib import Path

from minion_tf.reports.claims import build_claims
from minion_tf.reports.cost_table import build_cost_table
from minion_tf.reports.tables import build_tables


def build_tweet_reports(runs: Path, out: Path) -> list[Path]:
    """Write every tweet report of the runs under `runs` into `out`; return the paths."""
    return [*build_tables(Path(runs), Path(out)), *build_claims(Path(runs), Path(out)),
            *build_cost_table(Path(runs), Path(out))]
