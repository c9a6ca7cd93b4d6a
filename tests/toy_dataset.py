"""A toy DomainBed-layout dataset on disk, ``root/<name>/<domain>/<class>/<k>.png`` with seeded
random pixels, and its split tables, for tests that need image files but no download."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cdga.data import datasets

# The two-domain dataset of the generation tests (sd_pipeline.SETTINGS describes its domains).
TINY, TINY_DOMAINS, TINY_CLASSES = "Tiny", ("photo", "sketch"), ("one", "two")


def write_image(path: Path, seed: int, size: int = 8) -> None:
    """A ``size`` x ``size`` RGB PNG of seeded random pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)


def toy_dataset(root: Path, name: str = "Toy", domains: Sequence[str] = ("a", "b", "c"),
                classes: Sequence[str] = ("cat", "dog"), per_class: int = 5, size: int = 8) -> Path:
    """Write ``per_class`` images per (domain, class) under ``root/name``; return ``root``."""
    for d, domain in enumerate(domains):
        for c, class_name in enumerate(classes):
            for k in range(per_class):
                write_image(root / name / domain / class_name / f"{k}.png", 100 * d + 10 * c + k, size)
    return root


def split_table(root: Path, name: str = "Toy") -> pd.DataFrame:
    """The split table of a toy dataset under ``root``, as the workflow's split rule makes it
    (20 % of each domain held out for validation, seed 0)."""
    return datasets.index_dataset(root, name, None, holdout_fraction=0.2, seed=0)


def tiny_split_table(root: Path, per_class: int = 3, size: int = 16) -> pd.DataFrame:
    """The Tiny dataset (TINY_DOMAINS x TINY_CLASSES) written under ``root``, and its split table:
    every image but the last of each class is a training image."""
    toy_dataset(root, TINY, TINY_DOMAINS, TINY_CLASSES, per_class, size)
    rows = [(str(root / TINY / domain / name / f"{k}.png"), domain, c, name,
             "val" if k == per_class - 1 else "train")
            for domain in TINY_DOMAINS for c, name in enumerate(TINY_CLASSES) for k in range(per_class)]
    return pd.DataFrame(rows, columns=["path", "domain", "class_index", "class_name", "split"])
