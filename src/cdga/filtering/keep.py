"""Keep only the synthetic images that kept their class: the filter stage of the methods
``*_filtered`` (an ablation beside their unfiltered twins), torch-free.

Per (dataset, test domain) a class classifier, the scorer (``cdga.filtering.scorer``), is trained
on ``scorer_rows``: the real training split of the training domains, nothing of the test domain
and no validation image, which ``check_scorer_rows`` proves with the provenance-checked leakage
guard of ``cdga.training.assembly``. Per (dataset, variant, test domain) it scores the synthetic images
of the pairs the filtered methods train on; ``decide`` keeps or drops each by the config's rule:

- ``threshold``: keep an image whose probability of its source's class is above the threshold;
- ``top_share``: keep the given share of each (pair, rep) with the highest such probability,
  so every scale level keeps that share;
- ``class_share`` (the default): keep the given share of each (pair, class, rep) with the
  highest such probability. It is relative, so a weak scorer at many classes (hundreds)
  still keeps that share of every class of every pair, where a fixed threshold may keep none.

Assembly then trains on ``kept`` rows only; ``kept_shares`` summarises per pair and per class.
A keep list may keep no image of a pair or of a whole target domain (``threshold``): assembly
proceeds with what is kept (a training domain without synthetic images trains on its real ones
only, ``cdga.training.train``), and ``empty_pairs`` lists every such (pair, rep) for the filter summary
and the tables' note.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cdga.training.assembly import ManifestError, check_no_leakage

RULES = ("threshold", "top_share", "class_share")
# The groups within which a share rule keeps its share of the highest source-class probabilities.
SHARE_GROUPS = {"top_share": ["rep"], "class_share": ["class_index", "rep"]}
SCORES = ["source_prob", "class_pred", "class_prob"]
KEY = ["shard", "member"]
PAIR = ["source_domain", "target_domain"]
DECISION_COLUMNS = ["dataset", "test_env", "variant", "member", "shard", "source_path",
                    "source_domain", "target_domain", "class_index", "class_name", "rep",
                    *SCORES, "keep"]
SCORER_COLUMNS = ["path", "domain", "split", "class_index", "class_name"]
SHARE_KEYS = ["dataset", "variant", "test_env"]


class FilterError(ValueError):
    """A filter rule or keep list cannot be applied; the message names the file or key."""


def scorer_rows(split_table: pd.DataFrame, test_env: str, max_per_domain: int | None,
                seed: int) -> pd.DataFrame:
    """The scorer's training rows: real training-split images of every domain but ``test_env``,
    at most ``max_per_domain`` per domain (a seeded sample; None: all), in split-table order."""
    rows = split_table[(split_table["domain"] != test_env) & (split_table["split"] == "train")]
    if max_per_domain is not None:
        rows = (rows.sample(frac=1.0, random_state=seed).groupby("domain", sort=False)
                .head(max_per_domain).sort_index())
    if rows.empty:
        raise FilterError(f"no real training image outside test domain {test_env!r} to train "
                          "the filter's scorer on")
    return rows[SCORER_COLUMNS].reset_index(drop=True)


def check_scorer_rows(rows: pd.DataFrame, split_table: pd.DataFrame, test_env: str,
                      synthetic: pd.DataFrame | None = None) -> None:
    """Raise ``cdga.training.assembly.LeakageError`` unless every scorer training row is a real
    training-split image of a training domain (looked up in the split table by path, as
    assembly checks its rows) and every scored synthetic row would pass assembly's guard."""
    parts = [rows.assign(role="train", origin="real", source_path="", source_domain="",
                         target_domain="", guide_path="")]
    if synthetic is not None and len(synthetic):
        parts.append(synthetic.rename(columns={"member": "path"})
                     .assign(role="train", origin="synthetic",
                             domain=synthetic["target_domain"]))
    check_no_leakage(pd.concat(parts, ignore_index=True), split_table, test_env)


def decide(scores: pd.DataFrame, rule: Mapping) -> pd.Series:
    """Keep (True) or drop per row of ``scores`` by ``rule`` ({'rule': name, name: value})."""
    name = rule.get("rule")
    if name == "threshold":
        return scores["source_prob"] > rule["threshold"]
    if name in SHARE_GROUPS:
        share = rule[name]
        if not 0 < share <= 1:
            raise FilterError(f"config key filtering.{name}: bad value {share!r}; use (0, 1]")
        order = scores.sort_values(["source_prob", *KEY], ascending=[False, True, True],
                                   kind="stable")
        groups = order.groupby([*PAIR, *SHARE_GROUPS[name]], sort=False)
        quota = groups["member"].transform("size").map(lambda n: math.ceil(round(n * share, 9)))
        return (groups.cumcount() < quota).reindex(scores.index)
    raise FilterError(f"config key filtering.rule: bad value {name!r}; use one of {list(RULES)}")


def _keys(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([frame["shard"].astype(str).map(os.path.normpath),
                                      frame["member"].astype(str)])


def kept(synthetic: pd.DataFrame, decisions: pd.DataFrame, source: str | os.PathLike
         ) -> pd.DataFrame:
    """The rows of ``synthetic`` that keep list ``decisions`` (read from ``source``) keeps;
    possibly none of a pair or of a target domain (``empty_pairs`` lists those).

    ManifestError for a synthetic row the filter did not decide on.
    """
    keep = pd.Series(decisions["keep"].astype(bool).to_numpy(), index=_keys(decisions))
    if keep.index.has_duplicates:
        raise ManifestError(f"keep list {str(source)!r} decides on some images twice")
    index = _keys(synthetic)
    missing = ~index.isin(keep.index)
    if missing.any():
        raise ManifestError(f"keep list {str(source)!r} lacks {int(missing.sum())} synthetic "
                            f"image(s), e.g. {tuple(index[missing][0])}; rerun its filter job")
    return synthetic[keep.reindex(index).to_numpy()].reset_index(drop=True)


EMPTY_COLUMNS = [*SHARE_KEYS, *PAIR, "rep", "n"]


def empty_pairs(decisions: pd.DataFrame) -> pd.DataFrame:
    """The (dataset, variant, test domain, pair, rep) groups of ``decisions`` of which the
    keep list keeps no image, with their image count ``n``: a filtered run at scale level
    above ``rep`` has no synthetic image of that pair."""
    table = (decisions.groupby([*SHARE_KEYS, *PAIR, "rep"], sort=False)["keep"]
             .agg(n="size", kept="sum").reset_index())
    return table[table["kept"] == 0][EMPTY_COLUMNS].reset_index(drop=True)


def kept_shares(decisions: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per (dataset, variant, test domain, *by): images, kept, kept share, mean source-class
    probability of all and of the kept images."""
    table = (decisions.assign(kept_prob=decisions["source_prob"].where(decisions["keep"]))
             .groupby([*SHARE_KEYS, *by], sort=False)
             .agg(n=("keep", "size"), kept=("keep", "sum"), mean_source_prob=("source_prob", "mean"),
                  mean_kept_source_prob=("kept_prob", "mean"))
             .reset_index())
    table["kept_share"] = table["kept"] / table["n"]
    return table[[*SHARE_KEYS, *by, "n", "kept", "kept_share", "mean_source_prob",
                  "mean_kept_source_prob"]]


def sample_examples(decisions: pd.DataFrame, examples: int, seed: int) -> pd.DataFrame:
    """Up to ``examples`` kept and ``examples`` dropped rows per (test domain, variant, pair),
    a seeded sample in the input's order: what ``example_rows`` picks from, so a summary need
    not hold every job's decisions at once."""
    return (decisions.sample(frac=1.0, random_state=seed)
            .groupby(["test_env", "variant", *PAIR, "keep"], sort=False).head(examples)
            .sort_index())


def example_rows(decisions: pd.DataFrame, examples: int, seed: int) -> pd.DataFrame:
    """Per (variant, pair) of one dataset, decided under its first test domain (in input
    order): up to ``examples`` kept and ``examples`` dropped images, a seeded sample each,
    ordered by source-class probability. Columns of ``decisions`` plus ``row`` and ``slot``."""
    first = decisions.groupby(["variant", *PAIR], sort=False)["test_env"].transform("first")
    own = decisions[decisions["test_env"] == first]
    variants = list(dict.fromkeys(own["variant"]))
    pairs = sorted(own.groupby(["variant", *PAIR]).groups,
                   key=lambda p: (variants.index(p[0]), p[1], p[2]))
    picked = []
    for r, (variant, src, tgt) in enumerate(pairs):
        pair = own[(own["variant"] == variant) & (own["source_domain"] == src)
                   & (own["target_domain"] == tgt)]
        for keep in (True, False):
            part = pair[pair["keep"] == keep]
            part = part.sample(frac=1.0, random_state=seed).head(examples)
            part = part.sort_values("source_prob", ascending=not keep)
            picked.append(part.assign(row=r, slot=np.arange(len(part)) + (0 if keep else examples)))
    columns = [*decisions.columns, "row", "slot"]
    return pd.concat(picked, ignore_index=True)[columns] if picked else pd.DataFrame(columns=columns)
