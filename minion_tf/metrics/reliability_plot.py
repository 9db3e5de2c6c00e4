"""Reliability diagram PNG: one curve per model in one figure, with the diagonal (paper Fig. 3).

Uses matplotlib's object API with the Agg canvas, so it never touches pyplot's global
backend. Kept out of `minion_tf.metrics.__init__` so importing the metrics stays light.
"""
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from minion_tf.errors import MinionError
from minion_tf.io import temporary_path
from minion_tf.metrics.calibration import reliability_bins


def plot_reliability(
    curves: Mapping,
    path,
    *,
    num_bins: int = 20,
    binning: str = "width",
    title: str = "Reliability diagram",
) -> Path:
    """Write a reliability diagram of several models to `path` (PNG, written atomically).

    `curves` maps a label to `(probs, labels)`, binned here, or to a bins mapping with
    `confidence` and `accuracy` (as from `reliability_bins` or the calibration JSON).
    Empty bins are left out of the curve.

    Example:
        >>> plot_reliability({"MINION-64": (p_val, y_val), "READ-64": bins}, "reliability.png")
    """
    if not curves:
        raise MinionError(f"reliability plot {path}: no curves given")
    path = Path(path)
    fig = Figure(figsize=(5.0, 5.0), dpi=120)
    ax = fig.add_subplot()
    ax.plot([0.0, 1.0], [0.0, 1.0], linestyle="--", color="0.5", linewidth=1.0, label="perfect calibration")
    for name, curve in curves.items():
        bins = curve if isinstance(curve, Mapping) else reliability_bins(*curve, num_bins=num_bins, binning=binning)
        confidence = np.asarray(bins["confidence"], dtype=np.float64)
        accuracy = np.asarray(bins["accuracy"], dtype=np.float64)
        keep = np.isfinite(confidence) & np.isfinite(accuracy)
        ax.plot(confidence[keep], accuracy[keep], marker="o", markersize=3, linewidth=1.2, label=str(name))
    ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0), xlabel="confidence (P(positive) for binary)",
           ylabel="accuracy (fraction positive for binary)", title=title)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return save_png(fig, path)


def save_png(fig, path: Path) -> Path:
    """Write `fig` as a PNG to a temporary name beside `path`, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with temporary_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path
