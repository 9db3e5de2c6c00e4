"""Published figures the result tables show beside ours, marked as such (DESIGN.md's summaries of the papers).

The ETH MINION paper trained BERTweet-base (135M parameters) on about 2.27M tweets on an A100: its
Table I trainable shares and Table II test scores and costs. Ours run smaller encoders on fewer tweets
on a CPU, so the figures are a yardstick, not a target.

Example:
    >>> PAPER_TABLE2["MINION-64"]["accuracy %"]
    90.15
"""
from __future__ import annotations

PAPER = "ETH paper (BERTweet-base, ~2.27M train tweets, A100)"
PAPER_TRAIN_TWEETS = 2_270_000

PAPER_TABLE1 = {  # trainable % of BERTweet-base's 1.35e8 parameters
    "READ-8": 0.03, "READ-64": 0.27, "READ-256": 1.3, "MINION-8": 0.02, "MINION-64": 0.2, "MINION-256": 1.44}

PAPER_TABLE2 = {  # test split; ACE and MCE x100; GPU energy by the paper's eq. 2; GPU peak memory
    "FastText": {"accuracy %": 82.83},
    "BERTweet-base (fine-tuned)": {"accuracy %": 90.42, "ACE %": 4.74, "MCE %": 13.11, "GPU energy kWh": 1.39,
                                   "GPU peak GiB": 33.11},
    "READ-64": {"accuracy %": 89.71, "ACE %": 3.12, "MCE %": 9.47, "GPU energy kWh": 0.85},
    "MINION-64": {"accuracy %": 90.15, "ACE %": 0.48, "MCE %": 2.35, "GPU energy kWh": 0.79, "GPU peak GiB": 5.26},
}


def paper_rows(table: dict, column: str | None = None) -> list[dict]:
    """Rows of a published table, each model's name marked "(paper)" and its source given.

    Example:
        >>> paper_rows(PAPER_TABLE1, "trainable %")[0]
        {'model': 'READ-8 (paper)', 'source': 'ETH paper (...)', 'trainable %': 0.03}
    """
    return [{"model": f"{name} (paper)", "source": PAPER, **({column: values} if column else values)}
            for name, values in table.items()]
