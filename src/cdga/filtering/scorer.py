"""The filter stage's scorer: a class classifier trained on real images, and the scores it gives
synthetic images read from their tar shards in place, in batches, on the configured device.

Two kinds, chosen by the config's ``filtering.scorer.weights``:

- null: the whole ``backbone`` trained from scratch as ``cdga.generation.quality`` trains its
  class classifier (Adam and random shifts, images in [-1, 1] at the scorer's resolution); the
  demo's small CNN;
- pretrained weights (``IMAGENET1K_V1`` or a local state-dict file, as ``training.weights``): a
  linear probe. The backbone (the study's ImageNet ResNet-50) stays frozen; its features of the
  real images (ImageNet-normalised) are computed once, in batches, and only a linear head is
  trained on them (Adam, ``epochs``, ``batch_size``, ``lr``; no augmentation). This is the
  paper's scorer: hundreds of classes (the paper's largest dataset has 345) are far beyond
  what a small CNN learns from a few thousand images.

Both train on ``cdga.filtering.keep.scorer_rows``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from cdga.generation import quality as gq
from cdga.generation.images import load_image, square
from cdga.training.loader import IMAGENET_MEAN, IMAGENET_STD, ImageRows
from cdga.training.networks import Classifier, load_model, save_model


class ImageNetInput(nn.Module):
    """``model`` fed ImageNet-normalised images: takes images in [-1, 1] (as ``score`` reads
    them) and normalises them as the pretrained backbone was trained."""

    def __init__(self, model: Classifier) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2 - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalize(x))


def is_probe(opts: Mapping) -> bool:
    """Whether ``opts`` (the config's ``filtering.scorer``) asks for a linear probe."""
    return bool(opts.get("weights"))


class RealImages(Dataset):
    """Real image files as scorer inputs in [-1, 1] at ``resolution``."""

    def __init__(self, paths: Sequence[str], resolution: int) -> None:
        self.paths = list(paths)
        self.resolution = resolution

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return gq.to_tensor([np.asarray(load_image(self.paths[i], self.resolution))])[0]


@torch.no_grad()
def outputs(fn: Callable[[torch.Tensor], torch.Tensor], images: Dataset, batch_size: int,
            workers: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """``fn`` (features or logits) of ``images`` (on the CPU), in batches on ``device``."""
    parts = [fn(x.to(device)).float().cpu()
             for x in DataLoader(images, batch_size=batch_size, num_workers=workers)]
    return torch.cat(parts) if parts else torch.zeros(0)


def train_head(head: nn.Linear, feats: torch.Tensor, y: torch.Tensor, opts: Mapping,
               device: torch.device | str = "cpu") -> nn.Linear:
    """Train the linear ``head`` on fixed features with Adam (seeded minibatch order)."""
    torch.manual_seed(opts["seed"])
    head = head.to(device)
    opt = torch.optim.Adam(head.parameters(), lr=opts["lr"])
    gen = torch.Generator().manual_seed(opts["seed"])
    for _ in range(opts["epochs"]):
        for idx in torch.randperm(len(feats), generator=gen).split(opts["batch_size"]):
            loss = F.cross_entropy(head(feats[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return head


def train(rows: pd.DataFrame, num_classes: int, opts: Mapping,
          device: torch.device | str = "cpu", batch_size: int = 256,
          workers: int = 0) -> nn.Module:
    """The scorer trained on ``rows``' images (``opts``: the config's ``filtering.scorer``):
    a linear probe on the frozen pretrained backbone when ``opts['weights']`` is set (wrapped
    in ``ImageNetInput``), else the whole ``opts['backbone']`` from scratch. ``batch_size``
    and ``workers`` (the probe's feature extraction) change speed, not the scorer."""
    y = torch.tensor(rows["class_index"].to_numpy())
    if not is_probe(opts):
        x = gq.to_tensor([np.asarray(load_image(p, opts["resolution"])) for p in rows["path"]])
        return gq.train_classifier(x, y, num_classes, opts, device)
    torch.manual_seed(opts["seed"])
    model = ImageNetInput(Classifier(opts["backbone"], num_classes, opts["weights"]))
    model = model.to(device).eval()
    feats = outputs(model.features, RealImages(rows["path"].tolist(), opts["resolution"]), batch_size,
                     workers, device)
    train_head(model.model.classifier, feats, y, opts, device)
    return model.eval()


def save(path: str, model: nn.Module, resolution: int, **extra: object) -> None:
    """Save a scorer for ``load`` (a probe records that it takes ImageNet-normalised input)."""
    probe = isinstance(model, ImageNetInput)
    save_model(path, model.model if probe else model, resolution=resolution,
               imagenet_input=probe, **extra)


def load(path: str) -> tuple[nn.Module, int]:
    """A scorer saved by rule filter_scorer and the resolution it was trained at."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = load_model(path)
    return (ImageNetInput(model) if blob.get("imagenet_input") else model), int(blob["resolution"])


@torch.no_grad()
def accuracy(model: nn.Module, rows: pd.DataFrame, resolution: int, batch_size: int = 256,
             workers: int = 0, device: torch.device | str = "cpu") -> float:
    """The scorer's top-1 accuracy on real image ``rows`` (e.g. the validation split)."""
    model = model.to(device).eval()
    logits = outputs(model, RealImages(rows["path"].tolist(), resolution), batch_size,
                      workers, device)
    return float((logits.argmax(1).numpy() == rows["class_index"].to_numpy()).mean())


class ScorerInput:
    """A decoded image as a scorer input: RGB at ``resolution`` (``square``), in [-1, 1]."""

    def __init__(self, resolution: int) -> None:
        self.resolution = resolution

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return gq.to_tensor([np.asarray(square(image, self.resolution))])[0]


def shard_images(manifest: pd.DataFrame, resolution: int) -> ImageRows:
    """Synthetic images of a manifest (``shard``, ``member``, ``class_index``) as (scorer input,
    class index), read in place: the training loader's ``ImageRows``, so the rows live in
    numpy arrays and each shard's member index is built once, before workers fork."""
    rows = pd.DataFrame({"path": manifest["member"], "shard": manifest["shard"],
                         "class_index": manifest["class_index"]})
    return ImageRows(rows, ScorerInput(resolution))


@torch.no_grad()
def score(model: nn.Module, manifest: pd.DataFrame, resolution: int, batch_size: int,
          workers: int = 0, device: torch.device | str = "cpu") -> pd.DataFrame:
    """``manifest`` with the scorer's ``source_prob`` (probability of the row's class),
    ``class_pred`` and ``class_prob`` (the top class and its probability). Only one batch of
    images is in memory at a time; ``batch_size`` and ``workers`` change speed, not scores."""
    model = model.to(device).eval()
    loader = DataLoader(shard_images(manifest, resolution), batch_size=batch_size,
                        num_workers=workers, shuffle=False)
    parts = []
    for x, own in loader:
        prob = torch.softmax(model(x.to(device)), dim=1)
        top = prob.max(dim=1)
        parts.append(torch.stack([prob.gather(1, own.to(device)[:, None])[:, 0],
                                  top.indices.float(), top.values], dim=1).cpu())
    out = torch.cat(parts).numpy() if parts else np.zeros((0, 3), dtype=np.float32)
    return manifest.assign(source_prob=out[:, 0].astype(float), class_pred=out[:, 1].astype(int),
                           class_prob=out[:, 2].astype(float))
