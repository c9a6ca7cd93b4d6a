"""JPEG decoding on the training device (config ``training.decode``, an execution setting).

With ``decode: device`` the DataLoader workers read each image's encoded bytes and decode
nothing but what the device does not: the main process decodes a batch's JPEGs together with
``torchvision.io.decode_jpeg`` on the training device (nvJPEG on CUDA), then applies
DomainBed's transforms there image by image (crops differ) on uint8 tensors, under each
image's seed, and stacks them. The workers decode all other images with Pillow to RGB, as
the plain path does: PNG or WebP (the synthetic shards' default format is PNG), and grayscale,
CMYK or palette images, whatever their format.

Pixels (tests/test_decoding.py, on the CPU): decode_jpeg on the CPU equals Pillow's
decode; the tensor transforms draw the same random parameters from the same seed as the
Pillow ones and stay within the grey levels that test states. nvJPEG's own difference from
Pillow is not measured yet (no GPU lent to the change). Pillow's draft mode (``jpeg_draft``)
has no part here.

torchvision 0.29 deprecates its image decoders in favour of TorchCodec (0.16 and later);
``decode`` is the one call to move once TorchCodec's CUDA JPEG path is measured on a GPU.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms.functional import pil_to_tensor

from cdga.training.loader import ImageRows, seeded

DECODE = ("auto", "cpu", "device")


def on_device(decode: str) -> bool:
    """Whether setting ``training.decode`` decodes JPEGs on the training device: 'device' does;
    'cpu' decodes in the DataLoader workers with Pillow, and so does 'auto' until a GPU
    measurement (benchmarks/training_throughput.py --decode) shows the device faster."""
    if decode not in DECODE:
        raise ValueError(f"training.decode {decode!r}; known: {list(DECODE)}")
    return decode == "device"


def payload(data: bytes, name: str) -> tuple[torch.Tensor, bool]:
    """``(data as a uint8 tensor, True)`` for a colour (YCbCr) JPEG, which the device decodes;
    else ``(the image decoded by Pillow, RGB uint8 CHW, False)``. ``name`` names the image in errors."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "JPEG" and im.mode == "RGB":
                return torch.frombuffer(bytearray(data), dtype=torch.uint8), True
            return pil_to_tensor(im.convert("RGB")), False
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{name} is not a readable image ({exc})") from exc


class EncodedRows(ImageRows):
    """``ImageRows`` whose item is ``(payload, class index, augmentation seed, name, is JPEG)``
    (``payload``): the transform is applied after decoding, by ``DeviceBatches``. ``cache`` keeps
    the payloads."""

    def name(self, i: int) -> str:
        """Row ``i``'s image as errors name it."""
        path, tar = self.source(i)
        return repr(path) if tar is None else f"member {path!r} of synthetic shard {str(tar.path)!r}"

    def _decode(self, i: int) -> tuple[torch.Tensor, bool]:
        path, tar = self.source(i)
        return payload(Path(path).read_bytes() if tar is None else tar.read(path), self.name(i))

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, int, int | None, str, bool]:
        i, seed = item if isinstance(item, tuple) else (item, None)
        data, jpeg = self.image(i)
        return data, int(self.labels[i]), seed, self.name(i), jpeg


def collate(items: Sequence[tuple]) -> tuple[list[torch.Tensor], torch.Tensor, tuple, tuple, tuple]:
    """A batch of ``EncodedRows`` items: payloads (sizes differ) in a list, labels in a tensor."""
    payloads, labels, seeds, names, jpeg = zip(*items, strict=True)
    return list(payloads), torch.tensor(labels), seeds, names, jpeg


def decode(payloads: Sequence[torch.Tensor], jpeg: Sequence[bool], names: Sequence[str],
           device: torch.device) -> list[torch.Tensor]:
    """A batch's images on ``device`` as RGB uint8 CHW tensors: its JPEGs decoded together by
    ``decode_jpeg`` there, the images the workers decoded copied. A JPEG that does not decode
    is named in the error."""
    images = [p if j else p.to(device, non_blocking=True) for p, j in zip(payloads, jpeg, strict=True)]
    at = [k for k, j in enumerate(jpeg) if j]
    if not at:
        return images
    try:
        decoded = decode_jpeg([payloads[k] for k in at], mode=ImageReadMode.RGB, device=device)
    except RuntimeError:
        for k in at:  # the batch fails as a whole: find the image
            try:
                decode_jpeg(payloads[k], mode=ImageReadMode.RGB, device=device)
            except RuntimeError as exc:
                raise ValueError(f"{names[k]} is not a readable JPEG ({exc})") from exc
        raise
    for k, image in zip(at, decoded, strict=True):
        images[k] = image
    return images


class DeviceBatches:
    """``(images, labels)`` on ``device`` from a DataLoader over ``EncodedRows``: each batch
    decoded (``decode``), every image transformed under its seed by the rows' transform, stacked."""

    def __init__(self, loader: DataLoader, device: torch.device) -> None:
        self.loader = loader
        self.device = device

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        transform = self.loader.dataset.transform
        for payloads, labels, seeds, names, jpeg in self.loader:
            images = decode(payloads, jpeg, names, self.device)
            x = torch.stack([seeded(transform, im, s) for im, s in zip(images, seeds, strict=True)])
            yield x, labels.to(self.device, non_blocking=True)


def rows_dataset(rows: pd.DataFrame, transform: Callable, device_decode: bool, cache: bool = False,
                 draft: int | None = None) -> ImageRows:
    """The dataset of ``rows``: ``ImageRows`` decoded by the workers (``draft``: its JPEG draft
    side), or with ``device_decode`` ``EncodedRows``, whose colour JPEGs ``batches`` decodes on
    the device (``transform`` then takes tensors). It keeps arrays only, not ``rows``."""
    if not device_decode:
        return ImageRows(rows, transform, cache, draft)
    return EncodedRows(rows, transform, cache)


def batches(dataset: ImageRows, device: torch.device, **options) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Batches ``(images, labels)`` of ``dataset`` (``rows_dataset``; ``options``: DataLoader's
    keyword arguments): a plain DataLoader, or for ``EncodedRows`` batches decoded and
    transformed on ``device`` (``DeviceBatches``: the images arrive on ``device``)."""
    if not isinstance(dataset, EncodedRows):
        return DataLoader(dataset, **options)
    return DeviceBatches(DataLoader(dataset, collate_fn=collate, **options), device)
