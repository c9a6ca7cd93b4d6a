"""The filter stage's scorer: a class classifier trained on real images, and the scores it gives
synthetic images read from their tar shards in place, in batches, on the configured device.

It trains as ``cdga.generation_quality`` trains its class classifier (same network, Adam and
random shifts, images in [-1, 1] at the scorer's resolution), on ``cdga.filtering.scorer_rows``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from cdga import generation_quality as gq
from cdga.images import load_image, square
from cdga.networks import Classifier, load_model
from cdga.shards import TarShard


def train(rows: pd.DataFrame, num_classes: int, opts: Mapping,
          device: torch.device | str = "cpu") -> Classifier:
    """A ``opts['backbone']`` class classifier trained on ``rows``' images (``opts``: the
    config's ``filtering.scorer``)."""
    x = gq.to_tensor([np.asarray(load_image(p, opts["resolution"])) for p in rows["path"]])
    y = torch.tensor(rows["class_index"].to_numpy())
    return gq.train_classifier(x, y, num_classes, opts, device)


def load(path: str) -> tuple[Classifier, int]:
    """A scorer saved by rule filter_scorer and the resolution it was trained at."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    return load_model(path), int(blob["resolution"])


class ShardImages(Dataset):
    """Synthetic images of a manifest (``shard``, ``member``) as scorer inputs, read in place."""

    def __init__(self, manifest: pd.DataFrame, resolution: int) -> None:
        self.shards = manifest["shard"].astype(str).tolist()
        self.members = manifest["member"].astype(str).tolist()
        self.resolution = resolution
        self._tars: dict[str, TarShard] = {}

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> torch.Tensor:
        tar = self._tars.setdefault(self.shards[i], TarShard(self.shards[i]))
        return gq.to_tensor([np.asarray(square(tar.image(self.members[i]), self.resolution))])[0]


@torch.no_grad()
def score(model: Classifier, manifest: pd.DataFrame, resolution: int, batch_size: int,
          workers: int = 0, device: torch.device | str = "cpu") -> pd.DataFrame:
    """``manifest`` with the scorer's ``source_prob`` (probability of the row's class),
    ``class_pred`` and ``class_prob`` (the top class and its probability). Only one batch of
    images is in memory at a time; ``batch_size`` and ``workers`` change speed, not scores."""
    model = model.to(device).eval()
    loader = DataLoader(ShardImages(manifest, resolution), batch_size=batch_size,
                        num_workers=workers, shuffle=False)
    labels = torch.tensor(manifest["class_index"].to_numpy(), dtype=torch.long)
    parts, start = [], 0
    for x in loader:
        prob = torch.softmax(model(x.to(device)), dim=1)
        own = labels[start:start + len(x)].to(device)
        top = prob.max(dim=1)
        parts.append(torch.stack([prob.gather(1, own[:, None])[:, 0], top.indices.float(),
                                  top.values], dim=1).cpu())
        start += len(x)
    out = torch.cat(parts).numpy() if parts else np.zeros((0, 3), dtype=np.float32)
    return manifest.assign(source_prob=out[:, 0].astype(float), class_pred=out[:, 1].astype(int),
                           class_prob=out[:, 2].astype(float))
