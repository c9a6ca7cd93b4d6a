"""Probe sets: small, seeded subsets of real or synthetic images that the analyses evaluate.

Images load through ``cdga.training.loader.ImageRows`` (real files or tar members in place). The
analyses get pixels in [0, 1] (``pixel_transform``) and feed the classifier through
``pixel_model``, which applies the training normalisation inside the model, so adversarial
budgets are in pixel units. Every method is probed on the same images.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torchvision import transforms as T

from cdga.analyses.adversarial import Normalized
from cdga.training.loader import IMAGENET_MEAN, IMAGENET_STD, ImageRows
from cdga.training.networks import load_model

Batches = list[tuple[torch.Tensor, torch.Tensor]]


def pixel_transform(resolution: int) -> T.Compose:
    """The evaluation transform without normalisation: pixels in [0, 1]."""
    return T.Compose([T.Resize((resolution, resolution)), T.ToTensor()])


def pixel_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> Normalized:
    """Load a saved classifier onto ``device`` and wrap it to take [0, 1] pixels (eval mode)."""
    return Normalized(load_model(path), IMAGENET_MEAN, IMAGENET_STD).eval().to(device)


def sample(rows: pd.DataFrame, n: int, seed: int, by: str = "domain") -> pd.DataFrame:
    """At most ``n`` rows per ``by`` group, drawn with a seed per group name (stable order)."""
    parts = []
    for name, group in rows.sort_values("path").groupby(by, sort=True):
        rng = np.random.default_rng([seed, zlib.crc32(str(name).encode())])
        take = rng.permutation(len(group))[:n]
        parts.append(group.iloc[np.sort(take)])
    if not parts:
        raise ValueError(f"no rows to sample (grouped by {by!r})")
    return pd.concat(parts, ignore_index=True)


def real_rows(split_table: pd.DataFrame, domains: list[str], split: str | None) -> pd.DataFrame:
    """Real images of ``domains`` (``split`` 'train'/'val', or None for both)."""
    missing = sorted(set(domains) - set(split_table["domain"]))
    if missing:
        raise ValueError(f"split table lacks domain(s) {missing}")
    rows = split_table[split_table["domain"].isin(domains)]
    return rows if split is None else rows[rows["split"] == split]


def load(rows: pd.DataFrame, resolution: int, batch_size: int,
         device: torch.device | str = "cpu") -> Batches:
    """All images of ``rows`` as [0, 1] batches held on ``device`` (probe sets are small, and
    the analyses go over them many times)."""
    loader = DataLoader(ImageRows(rows.reset_index(drop=True), pixel_transform(resolution)),
                        batch_size=batch_size, shuffle=False)
    return [(x.to(device), torch.as_tensor(y).to(device)) for x, y in loader]
