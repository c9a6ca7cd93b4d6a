"""Result tables from the runs' results.jsonl files, DomainBed style.

Per dataset and model-selection rule: rows are methods, columns the test domains plus their
average, cells the mean ± standard error over trials, in percent. The standard error is the
sample one, std(ddof=1) / sqrt(n); DomainBed's collect_results uses ddof=0, which is smaller
by a factor sqrt((n - 1) / n). 'Avg' is the mean over trials of each trial's average over test
domains, so its error reflects trial-to-trial spread. The split is fixed across trials (the
synthetic images are made from it), so the spread covers initialisation and minibatch sampling,
not the split, which DomainBed redraws per trial; every table with an error says so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from cdga.core import methods as registry_methods
from cdga.core import registry
from cdga.core.methods import beside_twins
from cdga.training import selection

# DomainBed (Gulrajani & Lopez-Paz, 2021), ResNet-50, training-domain validation, average
# accuracy over test domains, per algorithm and dataset (the registry entries' ``reported``).
# Reported by that paper, not measured by this study.
REPORTED_DOMAINBED = registry.reported()
# The measured method that stands beside each reported row; other methods have none.
COUNTERPARTS = {"ERM": "erm", "Mixup": "mixup_inter"}
SELECTION_TITLES = {"training_domain": "training-domain validation",
                    "oracle": "oracle (test-domain validation, last checkpoint)"}
SPREAD_NOTE = ("The split is fixed across trials, so the standard error covers initialisation "
               "and minibatch sampling, not the split.")


RUN = ["dataset", "method", "test_env", "level", "trial"]


def collect(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per (run, selection rule) after the choice among hyperparameter draws
    (``select_draws``): dataset, method, test_env, level, trial, hparams_seed, selection, step,
    val (``selection.validation_score``), acc (the test domain's accuracy at the selected
    checkpoint)."""
    rows = []
    for path in paths:
        records = selection.read_records(path)
        if not records:
            raise ValueError(f"{path}: no checkpoint records")
        for name in selection.SELECTIONS:
            chosen = selection.select(records, name)
            rows.append({k: chosen[k] for k in RUN}
                        | {"hparams_seed": chosen.get("hparams_seed", 0),  # older runs: defaults
                           "selection": name, "step": chosen["step"],
                           "val": selection.validation_score(records, name),
                           "acc": selection.reported_accuracy(chosen)})
    return select_draws(pd.DataFrame(rows, columns=[*RUN, "hparams_seed", "selection", "step",
                                                    "val", "acc"]))


def select_draws(acc: pd.DataFrame) -> pd.DataFrame:
    """Per run and selection rule, the hyperparameter draw with the best ``val``, as DomainBed
    chooses per trial seed; ties go to the lowest hparams seed (the defaults first)."""
    ranked = acc.sort_values(["val", "hparams_seed"], ascending=[False, True], kind="stable")
    best = ranked.drop_duplicates([*RUN, "selection"])
    return best.sort_index().reset_index(drop=True)


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard error (NaN for a single value)."""
    arr = np.asarray(values, dtype=float)
    se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else math.nan
    return float(arr.mean()), se


def _cell(values: Sequence[float]) -> tuple[float, float, int]:
    mean, se = mean_se(values)
    return 100 * mean, 100 * se, len(values)


def summarize(acc: pd.DataFrame, test_envs: Sequence[str], methods: Sequence[str]
              ) -> pd.DataFrame:
    """For one dataset and selection: rows method x column (test envs + 'Avg') of
    (mean %, SE %, n trials). A method missing a test env gets no 'Avg'."""
    out = {}
    for method in [m for m in methods if m in set(acc["method"])]:
        sub = acc[acc["method"] == method]
        row = {env: _cell(sub.loc[sub["test_env"] == env, "acc"].tolist())
               for env in test_envs if (sub["test_env"] == env).any()}
        per_trial = sub.pivot_table(index="trial", columns="test_env", values="acc")
        if len(row) == len(test_envs):
            complete = per_trial[list(test_envs)].dropna()
            if len(complete):
                row["Avg"] = _cell(complete.mean(axis=1).tolist())
        out[method] = row
    return pd.DataFrame.from_dict(out, orient="index", columns=[*test_envs, "Avg"])


def _fmt(cell: object, latex: bool = False) -> str:
    if not isinstance(cell, tuple):
        return "–" if not latex else "--"
    mean, se, _ = cell
    if math.isnan(se):
        return f"{mean:.1f}"
    return f"{mean:.1f} $\\pm$ {se:.1f}" if latex else f"{mean:.1f} ± {se:.1f}"


def _latex_escape(text: str) -> str:
    return str(text).replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("&", r"\&")


def markdown(table: pd.DataFrame, title: str) -> str:
    header = ["method", *table.columns]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(" --- " for _ in header) + "|"]
    for method, row in table.iterrows():
        lines.append("| " + " | ".join([str(method), *(_fmt(c) for c in row)]) + " |")
    return "\n".join(lines) + "\n"


def latex(table: pd.DataFrame, title: str) -> str:
    cols = "l" + "c" * len(table.columns)
    lines = [f"% {title}", f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
             " & ".join(["Method", *map(_latex_escape, table.columns)]) + " \\\\", "\\midrule"]
    for method, row in table.iterrows():
        lines.append(" & ".join([_latex_escape(method), *(_fmt(c, True) for c in row)]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def accuracy_tables(acc: pd.DataFrame, test_envs: dict[str, Sequence[str]],
                    methods: Sequence[str]) -> tuple[str, str]:
    """Markdown and LaTeX documents: one table per dataset and selection rule; a filtered
    method's row follows its unfiltered twin's."""
    methods = beside_twins(methods)
    md, tex = [], []
    for dataset, envs in test_envs.items():
        for name, title in SELECTION_TITLES.items():
            sub = acc[(acc["dataset"] == dataset) & (acc["selection"] == name)]
            if sub.empty:
                continue
            table = summarize(sub, envs, methods)
            heading = f"{dataset}, {title}"
            trials = sorted(set(sub["trial"]))
            note = (f"(accuracy %, mean ± standard error over {len(trials)} trial(s)) "
                    + SPREAD_NOTE)
            md.append(markdown(table, heading) + "\n" + note + "\n")
            tex.append(latex(table, f"{heading} {note}"))
    return "\n".join(md), "\n".join(tex)


def filter_note(empty: pd.DataFrame, methods: Sequence[str]) -> str:
    """A note naming, per filtered method in ``methods``, dataset and test domain, the pairs
    and reps of which its keep list kept no synthetic image (``cdga.filtering.keep.empty_pairs``:
    runs at scale levels above that rep lack them; a training domain left with none trained on
    its real images only); "" when there is none."""
    lines = []
    for name in methods:
        spec = registry_methods.method(name)
        if not spec.filtered:
            continue
        rows = empty[empty["variant"].eq(spec.variant) | (spec.variant == "first")]
        for (dataset, test_env), part in rows.groupby(["dataset", "test_env"], sort=False):
            groups = ", ".join(f"{r.source_domain} -> {r.target_domain} (rep {r.rep}, {r.n} images)"
                               for r in part.itertuples())
            lines.append(f"- {name}, {dataset}, test domain {test_env}: the filter kept no "
                         f"synthetic image of {groups}")
    if not lines:
        return ""
    return ("Filter note (results/summary/filtering_empty.csv): runs at a scale level above "
            "the rep named lack these pairs' synthetic images; a training domain left with none "
            "trained on its real images only.\n\n" + "\n".join(lines) + "\n")


def overview(acc: pd.DataFrame, test_envs: dict[str, Sequence[str]],
             methods: Sequence[str]) -> pd.DataFrame:
    """Cross-dataset table (training-domain validation, average over test domains, %):
    each DomainBed reported row followed by its measured counterpart (``COUNTERPARTS``), then
    the measured methods that have none (a filtered one after its unfiltered twin); 'source'
    labels every row."""
    methods = beside_twins(methods)
    datasets = list(dict.fromkeys([*test_envs, *(d for v in REPORTED_DOMAINBED.values() for d in v)]))
    main = acc[acc["selection"] == "training_domain"]

    def measured(method: str) -> list[dict]:
        row = {"source": "measured (this study)", "method": method}
        for d in datasets:
            sub = main[(main["dataset"] == d) & (main["method"] == method)]
            avg = summarize(sub, test_envs[d], [method]).get("Avg") if d in test_envs else None
            row[d] = _fmt(avg.iloc[0]) if avg is not None and len(avg) else "–"
        return [row] if any(row[d] != "–" for d in datasets) else []

    rows = []
    for algo, values in REPORTED_DOMAINBED.items():
        rows.append({"source": "reported (DomainBed, ResNet-50)", "method": algo}
                    | {d: _fmt_reported(values.get(d)) for d in datasets})
        if COUNTERPARTS.get(algo) in methods:
            rows += measured(COUNTERPARTS[algo])
    for method in methods:
        if method not in COUNTERPARTS.values():
            rows += measured(method)
    return pd.DataFrame(rows, columns=["source", "method", *datasets])


def _fmt_reported(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def overview_markdown(table: pd.DataFrame) -> str:
    pairs = ", ".join(f"`{m}` under {algo}" for algo, m in COUNTERPARTS.items())
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join(" --- " for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return ("### Average accuracy over test domains (%), training-domain validation\n\n"
            + "\n".join(lines) + "\n\nReported rows are copied from DomainBed (Gulrajani & "
            "Lopez-Paz, ICLR 2021); measured rows are this study's runs, with the backbone and "
            "settings of its config (the demo: a small CNN on rendered digits). Each reported row is "
            f"followed by the measured method that runs its algorithm ({pairs}); the other "
            "measured rows have no reported counterpart (`mixup_within` mixes images within "
            "each domain, DomainBed's Mixup mixes two domains' minibatches). Measured cells are "
            f"mean ± standard error over trials. {SPREAD_NOTE}\n")


def overview_latex(table: pd.DataFrame) -> str:
    lines = ["\\begin{tabular}{ll" + "c" * (len(table.columns) - 2) + "}", "\\toprule",
             " & ".join(_latex_escape(c) for c in table.columns) + " \\\\", "\\midrule"]
    for row in table.itertuples(index=False):
        cells = [_latex_escape(c).replace("±", "$\\pm$").replace("–", "--") for c in row]
        lines.append(" & ".join(cells) + " \\\\")
    return "\n".join([*lines, "\\bottomrule", "\\end{tabular}", f"% {SPREAD_NOTE}"]) + "\n"
