"""DomainBed-layout datasets: ``<root>/<Dataset>/<domain>/<class>/*.{jpg,jpeg,png}``.

A dataset is read into a table with one row per image (path, domain, class_index,
class_name) and split per domain into train and validation, deterministically.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
COLUMNS = ["path", "domain", "class_index", "class_name", "split"]


class DatasetError(ValueError):
    """The dataset on disk is not a valid DomainBed layout; the message names the path."""


def _subdirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_images(root: str | Path, dataset: str, domains: Sequence[str] | None = None) -> pd.DataFrame:
    """List every image of ``root/dataset`` with its domain and class; validate the layout.

    ``domains`` (if given) are the domains that must exist, in order; otherwise every
    sub-folder is a domain. Classes are the sorted class-folder names, shared by all domains.
    """
    base = Path(root) / dataset
    if not Path(root).is_dir():
        raise DatasetError(f"datasets root {str(root)!r} does not exist")
    if not base.is_dir():
        raise DatasetError(f"dataset folder {str(base)!r} does not exist")
    found = _subdirs(base)
    domains = list(domains) if domains is not None else found
    missing = [d for d in domains if d not in found]
    if missing:
        raise DatasetError(f"dataset folder {str(base)!r} lacks domain folder(s) {missing}")
    classes = sorted({c for d in domains for c in _subdirs(base / d)})
    if not classes:
        raise DatasetError(f"dataset folder {str(base)!r} has no class folders")
    rows = []
    for domain in domains:
        present = _subdirs(base / domain)
        absent = [c for c in classes if c not in present]
        if absent:
            raise DatasetError(f"domain folder {str(base / domain)!r} lacks class folder(s) {absent}")
        for index, name in enumerate(classes):
            files = sorted(
                p for p in (base / domain / name).iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            rows += [(str(p), domain, index, name) for p in files]
        if not any(r[1] == domain for r in rows):
            raise DatasetError(f"domain folder {str(base / domain)!r} has no images")
    return pd.DataFrame(rows, columns=COLUMNS[:-1])


def _check_image(path: str) -> str | None:
    try:
        with Image.open(path) as im:
            im.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for corrupt files
        return f"{path}: {type(exc).__name__}: {exc}"
    return None


def verify_images(paths: Sequence[str], workers: int = 4) -> None:
    """Decode every image; raise DatasetError naming each unreadable or corrupt file."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        bad = [msg for msg in pool.map(_check_image, paths) if msg]
    if bad:
        shown = "\n  ".join(bad[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise DatasetError(f"{len(bad)} unreadable or corrupt image(s):\n  {shown}{more}")


def split_by_domain(frame: pd.DataFrame, holdout_fraction: float, seed: int) -> pd.DataFrame:
    """Add a ``split`` column: per domain a seeded ``holdout_fraction`` share is 'val', the rest 'train'.

    The permutation depends only on the seed, the domain name and the sorted paths, so it
    does not change when other domains are added or removed.
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}")
    out = frame.sort_values(["domain", "path"]).reset_index(drop=True)
    out["split"] = "train"
    for domain, rows in out.groupby("domain", sort=True).groups.items():
        rng = np.random.default_rng([seed, zlib.crc32(str(domain).encode())])
        order = rng.permutation(np.asarray(rows))
        out.loc[order[: round(len(order) * holdout_fraction)], "split"] = "val"
    return out[COLUMNS]


def index_dataset(
    root: str | Path,
    dataset: str,
    domains: Sequence[str] | None,
    holdout_fraction: float,
    seed: int,
    verify: bool = True,
) -> pd.DataFrame:
    """List, verify and split a DomainBed-layout dataset into the image table."""
    frame = list_images(root, dataset, domains)
    if verify:
        verify_images(frame["path"].tolist())
    return split_by_domain(frame, holdout_fraction, seed)
