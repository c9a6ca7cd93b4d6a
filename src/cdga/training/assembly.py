"""Assemble the image manifest of one training job and guard it against test-domain leakage.

The manifest has one row per image with its ``role``:

- ``train``: used for gradient steps: real training-split images of the training domains and,
  for CDGA methods, synthetic images (``origin`` 'synthetic', read from tar ``shard``);
- ``val``: validation-split images of the training domains (training-domain model selection);
- ``test``: both splits of the held-out test domain, for evaluation only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["path", "shard", "domain", "class_index", "class_name", "split", "role", "origin",
           "source_path", "source_domain", "target_domain", "guide_path", "variant", "rep"]
SYNTHETIC_COLUMNS = ["member", "shard", "source_path", "source_domain", "target_domain",
                     "class_index", "class_name", "guide_path", "variant", "rep"]


class LeakageError(RuntimeError):
    """A training row is, or derives from, an image of the test domain or a validation split."""


class ManifestError(ValueError):
    """A synthetic manifest is malformed or does not match the requested pairs; names the file."""


def _shared(values: pd.Series, seen: dict[str, str]) -> pd.Series:
    """``values`` with each distinct string one object, shared with earlier manifests' equal
    strings (``seen``): a source image's path and member name recur in every target's and
    rep's manifest, and a job reads millions of rows."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    own = np.array([seen.setdefault(u, u) for u in uniques], dtype=object)
    return pd.Series(own[codes] if len(codes) else values.to_numpy(), index=values.index,
                     dtype=object)


def read_synthetic(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Concatenate generation shard manifests, checking each has the contract's columns.
    Equal strings share one object (memory: millions of rows repeat a few hundred thousand
    paths and a few dozen names)."""
    frames = []
    seen: dict[str, str] = {}
    for path in paths:
        frame = pd.read_csv(path, keep_default_na=False, dtype={"guide_path": str, "lam": str})
        missing = [c for c in SYNTHETIC_COLUMNS if c not in frame]
        if missing:
            raise ManifestError(f"synthetic manifest {str(path)!r} lacks column(s) {missing}")
        frame = frame[SYNTHETIC_COLUMNS]
        frames.append(frame.assign(**{c: _shared(frame[c], seen) for c in SYNTHETIC_COLUMNS
                                      if frame[c].dtype == object}))
    if not frames:
        return pd.DataFrame(columns=SYNTHETIC_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _real_rows(split_table: pd.DataFrame, test_env: str) -> pd.DataFrame:
    rows = split_table.copy()
    rows["role"] = "test"
    training = rows["domain"] != test_env
    rows.loc[training, "role"] = rows.loc[training, "split"].map({"train": "train", "val": "val"})
    rows["shard"] = ""
    rows["origin"] = "real"
    for col in ("source_path", "source_domain", "target_domain", "guide_path", "variant"):
        rows[col] = ""
    rows["rep"] = -1
    return rows


def _synthetic_rows(synthetic: pd.DataFrame, pairs: Sequence[tuple[str, str]], variant: str | None,
                    level: int) -> pd.DataFrame:
    if synthetic.empty:
        return pd.DataFrame(columns=COLUMNS)
    got = set(zip(synthetic["source_domain"], synthetic["target_domain"], strict=True))
    unexpected = sorted(got - set(pairs))
    if unexpected:
        raise ManifestError(f"synthetic rows from pairs {unexpected} not used by this job "
                            f"(expected pairs {sorted(pairs)})")
    if (synthetic["variant"] != variant).any():
        raise ManifestError(f"synthetic rows of variant(s) {sorted(set(synthetic['variant']))}, "
                            f"expected {variant!r}")
    if (synthetic["rep"].astype(int) >= level).any():
        raise ManifestError(f"synthetic rows with rep >= scale level {level}")
    rows = synthetic.rename(columns={"member": "path"})  # copy-on-write: synthetic is untouched
    rows["domain"] = rows["target_domain"]
    rows["split"] = "train"
    rows["role"] = "train"
    rows["origin"] = "synthetic"
    return rows


def assemble(split_table: pd.DataFrame, test_env: str, synthetic: pd.DataFrame | None = None,
             pairs: Sequence[tuple[str, str]] = (), variant: str | None = None,
             level: int = 0) -> pd.DataFrame:
    """The manifest of one job: real rows of every domain (roles train/val/test) plus the
    synthetic rows of ``pairs`` with rep < ``level``; leakage-checked before it is returned."""
    if test_env not in set(split_table["domain"]):
        raise ValueError(f"test domain {test_env!r} is not in the split table "
                         f"(domains {sorted(set(split_table['domain']))})")
    if any(test_env in pair for pair in pairs):
        raise LeakageError(f"synthetic pairs {list(pairs)} involve the test domain {test_env!r}")
    parts = [_real_rows(split_table, test_env)]
    if synthetic is not None and len(synthetic):
        if level < 1 or not pairs:
            raise ManifestError("synthetic rows given to a job without synthetic pairs or level")
        parts.append(_synthetic_rows(synthetic, pairs, variant, level))
    manifest = pd.concat(parts, ignore_index=True)[COLUMNS]
    check_no_leakage(manifest, split_table, test_env)
    return manifest


def _origins(paths: pd.Series, by_path: pd.DataFrame, what: str) -> pd.DataFrame:
    """Split-table rows (domain, split) of ``paths``; LeakageError for paths it does not know."""
    unknown = sorted(set(paths) - set(by_path.index))
    if unknown:
        raise LeakageError(f"{len(unknown)} training row(s) have a {what} that is not in the "
                           f"split table, so their domain cannot be checked, e.g. {unknown[:3]}")
    return by_path.loc[paths.tolist()]


def check_no_leakage(manifest: pd.DataFrame, split_table: pd.DataFrame, test_env: str) -> None:
    """Raise LeakageError unless every training row is a real training-split image of a training
    domain, or a synthetic image whose source and guide are such images and whose target is not
    the test domain. Domains and splits are looked up in the split table, never parsed from paths.
    """
    norm = split_table.assign(key=split_table["path"].map(os.path.normpath))
    by_path = norm.drop_duplicates("key").set_index("key")[["domain", "split"]]
    train = manifest[manifest["role"] == "train"]
    problems = []

    def check(paths: pd.Series, what: str) -> None:
        if paths.empty:
            return
        codes, uniques = pd.factorize(paths, use_na_sentinel=False)  # each distinct path once
        found = _origins(pd.Series(uniques).map(os.path.normpath), by_path, what)
        bad_domain = found["domain"].to_numpy()[codes] == test_env
        if bad_domain.any():
            problems.append(f"{int(bad_domain.sum())} training row(s) with a {what} in test "
                            f"domain {test_env!r}, e.g. {paths[bad_domain].iloc[0]!r}")
        bad_split = found["split"].to_numpy()[codes] != "train"
        if bad_split.any():
            problems.append(f"{int(bad_split.sum())} training row(s) with a {what} from a "
                            f"validation split, e.g. {paths[bad_split].iloc[0]!r}")

    real = train[train["origin"] == "real"]
    synthetic = train[train["origin"] == "synthetic"]
    other = train[~train["origin"].isin(["real", "synthetic"])]
    if len(other):
        problems.append(f"training rows of unknown origin {sorted(set(other['origin']))}")
    check(real["path"], "real image")
    check(synthetic["source_path"], "source image")
    guides = synthetic["guide_path"].fillna("").astype(str)
    check(guides[guides != ""], "guide image")
    for col in ("domain", "source_domain", "target_domain"):
        rows = train[col] == test_env
        if rows.any():
            problems.append(f"{int(rows.sum())} training row(s) with {col} == test domain "
                            f"{test_env!r}")
    if problems:
        raise LeakageError("test-domain leakage in the training set:\n  " + "\n  ".join(problems))


def synthetic_manifest_path(root: str | Path, dataset: str, variant: str, src: str, tgt: str,
                            rep: int, shard: int) -> Path:
    """The generation contract's manifest path of one shard."""
    return Path(root) / "synthetic" / dataset / variant / f"{src}--{tgt}" / f"rep{rep}" / \
        f"shard{shard}.csv"
