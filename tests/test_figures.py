"""Every analysis figure renders from a small table and is saved as PNG and PDF."""

import itertools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from cdga.report import figures

METHODS = ["erm", "cdga_pg"]


def _grid(**axes: list) -> pd.DataFrame:
    return pd.DataFrame(list(itertools.product(*axes.values())), columns=list(axes))


def _saved(fig, tmp_path: Path, stem: str) -> None:
    png, pdf = figures.figure_paths(tmp_path, stem)
    figures.save(fig, png, pdf)
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"


def test_analysis_figures_render(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    adv = _grid(dataset=["D"], method=METHODS, test_env=["a", "b"], trial=[0, 1],
                attack=["fgsm", "pgd"], eps=[0, 1 / 255, 2 / 255])
    adv["acc"] = rng.uniform(size=len(adv))
    _saved(figures.adversarial(adv, METHODS), tmp_path, "adv")
    surf = _grid(dataset=["D"], method=METHODS, test_env=["a"], trial=[0, 1],
                 data=["train domains", "test domain"], alpha=[-1, 0, 1], beta=[-1, 0, 1])
    surf["loss"] = surf["alpha"] ** 2 + surf["beta"] ** 2 + rng.uniform(size=len(surf))
    assert len(figures.landscape_1d(surf[surf["beta"] == 0], METHODS).axes) == 2
    assert len(figures.landscape_2d(surf, METHODS).axes) == 4
    shift = _grid(dataset=["D"], method=METHODS, test_env=["a", "b"], trial=[0, 1])
    for col in ("transfer", "diversity", "correlation"):
        shift[col] = rng.uniform(size=len(shift))
    assert len(figures.shift(shift, METHODS).axes) == 3
    scaling = pd.concat([_grid(dataset=["D"], method=["cdga_pg", "mixup_within"], level=[1, 2],
                               test_env=["a"], trial=[0, 1], selection=["oracle"]),
                         _grid(dataset=["D"], method=["erm"], level=[0], test_env=["a"],
                               trial=[0, 1], selection=["oracle"])])
    scaling["acc"] = rng.uniform(size=len(scaling))
    fig = figures.scaling(scaling, METHODS)
    labels = {t for ax in fig.axes for t in ax.get_legend_handles_labels()[1]}
    labels |= {t.get_text() for leg in fig.legends for t in leg.get_texts()}
    assert "mixup_within" not in labels and {"erm", "cdga_pg"} <= labels

    points = pd.DataFrame({"x": rng.normal(size=6), "y": rng.normal(size=6),
                           "origin": ["real"] * 4 + ["synthetic"] * 2,
                           "group": ["a", "a", "b", "b", "a -> b", "b -> a"],
                           "is_test": [False, False, True, True, False, False]})
    assert figures.tsne(points, "t").axes[0].get_legend_handles_labels()[1] == [
        "a -> b", "b -> a", "a (real)", "b (real, test)"]
    plt.close("all")


def test_the_same_figure_saves_to_the_same_bytes(tmp_path: Path) -> None:
    saved = []
    for stem in ("one", "two"):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 4])
        png, pdf = figures.figure_paths(tmp_path, stem)
        figures.save(fig, png, pdf)
        saved.append((png.read_bytes(), pdf.read_bytes()))
    assert saved[0] == saved[1]


def test_figures_render_two_datasets_one_ig_only(tmp_path: Path) -> None:
    """As paper.yaml runs PACS (PG and IG) beside VLCS (IG only): cdga_pg has no VLCS rows."""
    methods = ["erm", "cdga_pg", "cdga_ig"]
    rng = np.random.default_rng(1)
    both = _grid(dataset=["PACS"], method=methods, test_env=["a"], trial=[0],
                 data=["train domains", "test domain"], alpha=[-1, 0, 1], beta=[-1, 0, 1])
    ig_only = _grid(dataset=["VLCS"], method=["erm", "cdga_ig"], test_env=["b"], trial=[0],
                    data=["train domains", "test domain"], alpha=[-1, 0, 1], beta=[-1, 0, 1])
    surf = pd.concat([both, ig_only], ignore_index=True)
    surf["loss"] = surf["alpha"] ** 2 + surf["beta"] ** 2 + rng.uniform(size=len(surf))
    fig = figures.landscape_2d(surf, methods)
    assert len(fig.axes) == 4 * 3
    titles = [ax.texts[0].get_text() for ax in fig.axes if ax.texts and not ax.axison]
    assert titles == ["cdga_pg: not run on VLCS"] * 2
    _saved(fig, tmp_path, "contours")
    _saved(figures.landscape_1d(surf[surf["beta"] == 0], methods), tmp_path, "curves")
    flat = surf.assign(loss=1.0)  # an untrained model's flat surface still draws
    _saved(figures.landscape_2d(flat, methods), tmp_path, "flat")
    adv = pd.concat([_grid(dataset=["PACS"], method=methods, test_env=["a"], trial=[0],
                           attack=["pgd"], eps=[0, 2 / 255]),
                     _grid(dataset=["VLCS"], method=["erm", "cdga_ig"], test_env=["b"], trial=[0],
                           attack=["pgd"], eps=[0, 2 / 255])])
    adv["acc"] = rng.uniform(size=len(adv))
    _saved(figures.adversarial(adv, methods), tmp_path, "adv")
    shift = adv[adv["eps"] == 0].drop(columns=["attack", "eps", "acc"])
    for col in ("transfer", "diversity", "correlation"):
        shift[col] = rng.uniform(size=len(shift))
    _saved(figures.shift(shift, methods), tmp_path, "shift")
    plt.close("all")
