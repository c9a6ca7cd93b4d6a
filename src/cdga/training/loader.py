"""Training data: image rows (real files or synthetic tar members), transforms and samplers.

Every random choice of the data pipeline is a pure function of (seed, step): which images
form a step's minibatch and how each one is augmented. A resumed run therefore sees exactly
the minibatches an uninterrupted run would, whatever the number of DataLoader workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler
from torchvision import transforms as T
from torchvision.transforms import v2

from cdga.data.shards import TarShard

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def train_transform(resolution: int, augment: Mapping, tensors: bool = False) -> T.Compose | v2.Compose:
    """DomainBed's training augmentation, each part set by ``augment`` (config ``training.augment``).

    ``tensors``: the same steps in ``torchvision.transforms.v2`` on uint8 CHW tensors (images
    decoded on the device, ``cdga.training.decoding``); from the same seed they draw the
    same crop, flip, jitter and grayscale parameters as the Pillow steps.
    """
    t = v2 if tensors else T
    steps: list = [t.RandomResizedCrop(resolution, scale=tuple(augment["crop_scale"]))]
    if augment["hflip"]:
        steps.append(t.RandomHorizontalFlip())
    jitter = augment["color_jitter"]
    if jitter:
        steps.append(t.ColorJitter(jitter, jitter, jitter, jitter))
    if augment["grayscale"]:
        steps.append(t.RandomGrayscale(augment["grayscale"]))
    return t.Compose([*steps, *_normalise(tensors)])


def eval_transform(resolution: int, tensors: bool = False) -> T.Compose | v2.Compose:
    """Resize to ``resolution`` x ``resolution`` and normalise, as DomainBed evaluates
    (``tensors``: see ``train_transform``)."""
    t = v2 if tensors else T
    return t.Compose([t.Resize((resolution, resolution)), *_normalise(tensors)])


def _normalise(tensors: bool) -> list:
    """To float in [0, 1], then ImageNet's normalisation."""
    if tensors:
        return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def seeded(transform: Callable, image: Any, seed: int | None) -> torch.Tensor:
    """``transform(image)`` with torch's CPU generator seeded by ``seed`` (None: as it stands)."""
    if seed is None:
        return transform(image)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # CPU only: no CUDA lazy-init cost
        return transform(image)


class Strings:
    """A column of strings packed as UTF-8 bytes and int64 offsets (two numpy arrays).

    Forked DataLoader workers share the pages: reading an item touches no Python object's
    reference count, unlike a list of str (copied page by page as workers read it).
    """

    def __init__(self, values: pd.Series) -> None:
        values = values.astype(str)
        lengths = values.str.len().to_numpy(dtype=np.int64)
        data = "".join(values).encode("utf-8")
        if len(data) != lengths.sum():  # not all ASCII: byte lengths differ from str lengths
            encoded = values.str.encode("utf-8")
            lengths = encoded.str.len().to_numpy(dtype=np.int64)
            data = b"".join(encoded)
        self.offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.data = np.frombuffer(data, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.data[self.offsets[i]:self.offsets[i + 1]].tobytes().decode("utf-8")


def open_rgb(path: str, draft: int | None = None) -> Image.Image:
    """The image file ``path`` in RGB. With ``draft``, a JPEG is decoded at the smallest DCT
    scale (1/2, 1/4, 1/8) that keeps both sides at least ``draft`` (Pillow's draft mode):
    fewer pixels decoded. For the evaluation resize the result stays within 2 grey levels on
    average (tests/test_data.py); the training crop draws its box from the image size, so
    the training loader decodes in full."""
    with Image.open(path) as im:
        if draft and im.format == "JPEG":
            im.draft("RGB", (draft, draft))
        return im.convert("RGB")


def loader_options(workers: int, device: torch.device, prefetch_factor: int = 2,
                   persistent_workers: bool = False) -> dict:
    """DataLoader keyword arguments of the execution settings: pinned memory on CUDA, and with
    workers their read-ahead depth and whether they outlive one pass over the loader."""
    options = {"num_workers": workers, "pin_memory": device.type == "cuda"}
    if workers:
        options |= {"prefetch_factor": prefetch_factor, "persistent_workers": persistent_workers}
    return options


class ImageRows(Dataset):
    """Rows of an assembled manifest as (image tensor, class index).

    A row with an empty ``shard`` is a real image file at ``path``; otherwise ``path`` is a
    member of the tar ``shard``, read in place. Items are indexed by ``(row, seed)``: the seed
    fixes the augmentation of that draw (a plain row index means no augmentation seed).
    With ``cache`` the decoded images are kept in memory (per worker), for small datasets;
    ``draft``: see ``open_rgb``.

    Rows live in numpy arrays and every shard's member index is built here, once, in the
    process that makes the dataset: forked DataLoader workers share both.
    """

    def __init__(self, rows: pd.DataFrame, transform: Callable, cache: bool = False,
                 draft: int | None = None) -> None:
        self.paths = Strings(rows["path"])
        shard = rows["shard"] if "shard" in rows else pd.Series("", index=rows.index)
        if isinstance(shard.dtype, pd.CategoricalDtype) and "" not in shard.cat.categories:
            shard = shard.cat.add_categories([""])  # so that a missing shard can read as ""
        codes, names = pd.factorize(shard.fillna("").astype(str), sort=True)
        self.shard_codes = codes.astype(np.int32)
        self.labels = rows["class_index"].to_numpy(dtype=np.int64)
        self.transform = transform
        self._tars: list[TarShard | None] = [TarShard(n) if n else None for n in names]
        for tar in self._tars:
            if tar is not None:
                tar.index  # noqa: B018 - build the member index before workers fork
        self._cache: dict[int, Image.Image] | None = {} if cache else None
        self.draft = draft  # open_rgb: real JPEGs decoded at a reduced scale covering this side

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, i: int) -> Image.Image:
        if self._cache is None:
            return self._decode(i)
        if i not in self._cache:
            self._cache[i] = self._decode(i)
        return self._cache[i]

    def source(self, i: int) -> tuple[str, TarShard | None]:
        """Row ``i``'s path and its tar shard (None for a real image file)."""
        return self.paths[i], self._tars[self.shard_codes[i]]

    def _decode(self, i: int) -> Image.Image:
        path, tar = self.source(i)
        if tar is None:
            return open_rgb(path, self.draft)
        return tar.image(path)

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        i, seed = item if isinstance(item, tuple) else (item, None)
        return seeded(self.transform, self.image(i), seed), int(self.labels[i])


@dataclass(frozen=True)
class Stream:
    """A pool of dataset rows drawn ``count`` at a time, without replacement within an epoch."""

    rows: np.ndarray
    count: int


class StepSampler(Sampler):
    """Yields, for every step from ``start_step`` on, the step's (row, augmentation seed) list.

    Stream k's positions ``[step * count, (step + 1) * count)`` index the concatenation of
    per-epoch permutations seeded by (seed, k, epoch), so a step's batch depends only on
    the seed and the step: the sampler's whole state is the step number.
    """

    def __init__(self, streams: Sequence[Stream], seed: int, start_step: int = 0,
                 steps: int | None = None) -> None:
        for k, stream in enumerate(streams):
            if stream.count > 0 and len(stream.rows) == 0:
                raise ValueError(f"sampler stream {k} must draw {stream.count} rows but is empty")
        self.streams = list(streams)
        self.seed = seed
        self.start_step = start_step
        self.steps = steps
        self._perms: dict[tuple[int, int], np.ndarray] = {}

    def _permutation(self, k: int, epoch: int) -> np.ndarray:
        key = (k, epoch)
        if key not in self._perms:
            self._perms = {q: p for q, p in self._perms.items() if q[0] != k or q[1] >= epoch - 1}
            rng = np.random.default_rng([self.seed, k, epoch])
            self._perms[key] = self.streams[k].rows[rng.permutation(len(self.streams[k].rows))]
        return self._perms[key]

    def rows_at(self, step: int) -> list[int]:
        """The dataset rows of one step, stream after stream."""
        out: list[int] = []
        for k, stream in enumerate(self.streams):
            n = len(stream.rows)
            for pos in range(step * stream.count, (step + 1) * stream.count):
                out.append(int(self._permutation(k, pos // n)[pos % n]))
        return out

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        rows = self.rows_at(step)
        seeds = np.random.SeedSequence([self.seed, step]).generate_state(len(rows))
        return [(r, int(s)) for r, s in zip(rows, seeds, strict=True)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while self.steps is None or step < self.steps:
            yield self.batch_at(step)
            step += 1

    def __len__(self) -> int:
        if self.steps is None:
            raise TypeError("an endless StepSampler has no length")
        return max(self.steps - self.start_step, 0)


def split_counts(batch_size: int, synthetic_ratio: float, has_synthetic: bool) -> tuple[int, int]:
    """(real, synthetic) images per training domain in a minibatch of ``batch_size``."""
    if not 0 <= synthetic_ratio < 1:
        raise ValueError(f"training.synthetic_ratio must be in [0, 1), got {synthetic_ratio!r}")
    synthetic = round(batch_size * synthetic_ratio) if has_synthetic else 0
    if batch_size - synthetic < 1:
        raise ValueError(f"batch size {batch_size} with synthetic ratio {synthetic_ratio} "
                         "leaves no real image per domain")
    return batch_size - synthetic, synthetic


def num_workers(configured: int) -> int:
    """DataLoader workers: the SLURM allocation's CPUs minus the main process, else the config."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if cpus:
        try:
            return max(int(cpus) - 1, 0)
        except ValueError:
            raise ValueError(f"SLURM_CPUS_PER_TASK={cpus!r} is not an integer") from None
    return configured
