"""The study's figures, in one seaborn style, each saved as PNG and PDF.

Every function takes the summary table an analysis wrote and returns a matplotlib Figure;
``save`` writes it atomically as ``<stem>.png`` and ``<stem>.pdf``. Bands and error bars
are standard errors over trials, after averaging over test domains within each trial.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from cdga.core.io import atomic_path

ERRORBAR = ("se", 1)
TITLE = "{row_name}: {col_name}"
PALETTE = "colorblind"


def style() -> None:
    """The one style of every figure."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 120, "savefig.dpi": 200, "savefig.bbox": "tight"})


def method_colors(methods: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per method, in the given order, shared by all figures."""
    return dict(zip(methods, sns.color_palette(PALETTE, len(methods)), strict=True))


def save(fig: Figure, png: str | os.PathLike, pdf: str | os.PathLike) -> None:
    """Write ``fig`` atomically to both files, then close it. The PDF carries no creation date,
    so the same figure gives the same bytes on every run."""
    for target, fmt, metadata in ((png, "png", {}), (pdf, "pdf", {"CreationDate": None})):
        with atomic_path(target, f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata)
    plt.close(fig)


def _per_trial(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean of ``value`` over test domains within each (keys..., trial)."""
    return frame.groupby([*keys, "trial"], as_index=False)[value].mean()


def adversarial(table: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Accuracy against eps (in 1/255), one panel per dataset and attack, a line per method."""
    style()
    data = _per_trial(table, ["dataset", "attack", "eps", "method"], "acc")
    data["eps (x 1/255)"] = data["eps"] * 255
    grid = sns.relplot(data=data, x="eps (x 1/255)", y="acc", hue="method", hue_order=methods,
                       palette=method_colors(methods), row="dataset", col="attack", kind="line",
                       marker="o", errorbar=ERRORBAR, height=3, aspect=1.2)
    grid.set_titles(TITLE)
    grid.set_ylabels("test-domain accuracy")
    return grid.figure


def landscape_1d(curves: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """1-D loss curves along a filter-normalised direction, per dataset and probe data."""
    style()
    data = _per_trial(curves, ["dataset", "data", "alpha", "method"], "loss")
    grid = sns.relplot(data=data, x="alpha", y="loss", hue="method", hue_order=methods,
                       palette=method_colors(methods), row="dataset", col="data", kind="line",
                       errorbar=ERRORBAR, height=3, aspect=1.2)
    grid.set_titles(TITLE)
    grid.set_ylabels("cross-entropy")
    return grid.figure


def landscape_2d(grids: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Contours of the 2-D loss surface, rows = (dataset, data), columns = methods.

    Each panel is the mean surface over test domains and trials; levels are shared per row.
    """
    style()
    rows = grids[["dataset", "data"]].drop_duplicates().sort_values(["dataset", "data"])
    present = [m for m in methods if m in set(grids["method"])]
    fig, axes = plt.subplots(len(rows), len(present), squeeze=False,
                             figsize=(3 * len(present), 2.8 * len(rows)))
    for r, (dataset, data) in enumerate(rows.itertuples(index=False)):
        sub = grids[(grids["dataset"] == dataset) & (grids["data"] == data)]
        mean = sub.groupby(["method", "alpha", "beta"], as_index=False)["loss"].mean()
        low, high = mean["loss"].min(), np.quantile(mean["loss"], 0.95)
        levels = np.linspace(low, max(high, low + 1e-6), 12)  # a flat surface still gets levels
        for c, method in enumerate(present):
            ax = axes[r, c]
            m = mean[mean["method"] == method].pivot(index="beta", columns="alpha", values="loss")
            if m.empty:  # e.g. cdga_pg on an IG-only dataset
                ax.text(0.5, 0.5, f"{method}: not run on {dataset}", ha="center", va="center",
                        fontsize=8, transform=ax.transAxes)
                ax.axis("off")
                continue
            cs = ax.contour(m.columns, m.index, m.to_numpy(), levels=levels, cmap="viridis")
            ax.clabel(cs, fontsize=6)
            ax.plot(0, 0, "k+")
            ax.set_title(f"{dataset} {data}: {method}", fontsize=9)
            ax.set_xlabel("alpha")
            ax.set_ylabel("beta" if c == 0 else "")
    fig.tight_layout()
    return fig


def shift(table: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Transferability, diversity and correlation shift per method (training -> test domain)."""
    style()
    measures = ["transfer", "diversity", "correlation"]
    long = table.melt(id_vars=["dataset", "method", "test_env", "trial"], value_vars=measures,
                      var_name="measure", value_name="value")
    data = _per_trial(long, ["dataset", "measure", "method"], "value")
    grid = sns.catplot(data=data, x="method", y="value", order=methods, hue="method",
                       hue_order=methods, palette=method_colors(methods), row="dataset",
                       col="measure", col_order=measures, kind="bar", errorbar=ERRORBAR,
                       sharey=False, height=3, aspect=1.0)
    grid.set_titles(TITLE)
    grid.set_xticklabels(rotation=30)
    return grid.figure


def scaling(table: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Accuracy against synthetic images per real image, for ``methods`` (rows of other methods
    are dropped); a real-only method appears as its level-0 point, the curves' baseline."""
    style()
    data = _per_trial(table[table["method"].isin(methods)], ["dataset", "selection", "level", "method"], "acc")
    grid = sns.relplot(data=data, x="level", y="acc", hue="method", hue_order=methods,
                       palette=method_colors(methods), row="dataset", col="selection",
                       kind="line", marker="o", errorbar=ERRORBAR, height=3, aspect=1.2)
    grid.set_titles(TITLE)
    grid.set_xlabels("synthetic images per real image per pair")
    grid.set_ylabels("test-domain accuracy")
    for ax in grid.axes.flat:
        ax.xaxis.get_major_locator().set_params(integer=True)
    return grid.figure


def tsne(points: pd.DataFrame, title: str) -> Figure:
    """t-SNE map: real images coloured by domain (dots; the test domain ringed in black),
    synthetic images coloured by their (source -> target) pair (small crosses)."""
    style()
    fig, ax = plt.subplots(figsize=(7, 5))
    synthetic = points[points["origin"] == "synthetic"]
    pairs = sorted(set(synthetic["group"]))
    for pair, colour in zip(pairs, sns.color_palette("husl", len(pairs)), strict=True):
        sub = synthetic[synthetic["group"] == pair]
        ax.scatter(sub["x"], sub["y"], s=10, marker="x", color=colour, alpha=0.6, linewidths=0.7,
                   label=pair)
    real = points[points["origin"] == "real"]
    domains = list(dict.fromkeys(real["group"]))
    for domain, colour in zip(domains, sns.color_palette("dark", len(domains)), strict=True):
        sub = real[real["group"] == domain]
        test = bool(sub["is_test"].any())
        ax.scatter(sub["x"], sub["y"], s=22, color=colour, edgecolors="black" if test else "none",
                   linewidths=0.6, alpha=0.85, label=f"{domain} (real{', test' if test else ''})")
    ax.set(title=title, xlabel="t-SNE 1", ylabel="t-SNE 2", xticks=[], yticks=[])
    ax.legend(fontsize=6, markerscale=1.2, bbox_to_anchor=(1.02, 1), loc="upper left",
              ncol=1 + (len(pairs) + len(domains)) // 22)
    return fig


def figure_paths(directory: str | os.PathLike, stem: str) -> tuple[Path, Path]:
    """``(<dir>/<stem>.png, <dir>/<stem>.pdf)``."""
    return Path(directory) / f"{stem}.png", Path(directory) / f"{stem}.pdf"


def filter_examples(picks: pd.DataFrame, examples: int, resolution: int, title: str) -> Figure:
    """Kept (left) and dropped (right) synthetic images per (variant, pair), from
    ``cdga.filtering.keep.example_rows``; each titled with its source-class probability."""
    from PIL import Image

    from cdga.data.shards import TarShard

    style()
    rows = picks.drop_duplicates("row").sort_values("row")
    fig, axes = plt.subplots(max(len(rows), 1), 2 * examples, squeeze=False,
                             figsize=(0.95 * 2 * examples, 1.05 * max(len(rows), 1) + 0.4))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    tars: dict[str, TarShard] = {}
    for pick in picks.itertuples():
        tar = tars.setdefault(pick.shard, TarShard(pick.shard))
        ax = axes[pick.row, pick.slot]
        image = tar.image(pick.member).resize((resolution, resolution), Image.BICUBIC)
        ax.imshow(np.asarray(image))
        ax.set_title(f"{'kept' if pick.keep else 'dropped'} {pick.source_prob:.2f}", fontsize=6,
                     color="black" if pick.keep else "firebrick")
    for row in rows.itertuples():
        axes[row.row, 0].set_ylabel(f"{row.variant.upper()} {row.source_domain}\n→ "
                                    f"{row.target_domain}\n(test {row.test_env})", fontsize=6,
                                    rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig
