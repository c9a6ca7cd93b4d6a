"""The datasets the study knows, DomainBed style, as entries of one kind (torch-free).

A dataset is a folder ``<datasets_root>/<name>/<domain>/<class>/`` with ordered domains. The
built-in entries below are DomainBed's five (``arranger``: how ``cdga.download`` turns their
downloaded sources into that layout) and the demo's DemoDigits (rendered by a rule). Any other
dataset is defined by its config block alone (``dataset_settings.<name>.domains``: a list, or
``every folder`` of its folder, read when the workflow starts): ``resolve``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"[A-Za-z0-9_-]+")  # dataset names: also the workflow's wildcard pattern
EVERY_FOLDER = "every folder"


@dataclass(frozen=True)
class Dataset:
    """``domains`` in DomainBed's environment order; ``arranger``: the ``cdga.download``
    recipe that builds the folder from the config's ``downloads`` sources (None: the folder
    is already there, or a rule makes it)."""

    domains: tuple[str, ...]
    arranger: str | None = None


DATASETS: dict[str, Dataset] = {
    "DemoDigits": Dataset(("photo", "art_painting", "cartoon", "sketch")),
    "PACS": Dataset(("art_painting", "cartoon", "photo", "sketch"), arranger="PACS"),
    "VLCS": Dataset(("Caltech101", "LabelMe", "SUN09", "VOC2007"), arranger="VLCS"),
    "OfficeHome": Dataset(("Art", "Clipart", "Product", "Real World"), arranger="OfficeHome"),
    "TerraIncognita": Dataset(("location_100", "location_38", "location_43", "location_46"),
                              arranger="TerraIncognita"),
    "DomainNet": Dataset(("clipart", "infograph", "painting", "quickdraw", "real", "sketch"),
                         arranger="DomainNet"),
}

DEMO_CLASSES: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)


def domains(dataset: str) -> tuple[str, ...]:
    """Return the domains of built-in ``dataset``; raise a KeyError naming the known datasets."""
    try:
        return DATASETS[dataset].domains
    except KeyError:
        raise KeyError(f"unknown dataset {dataset!r}; known: {sorted(DATASETS)}") from None


def downloadable() -> list[str]:
    """The built-in datasets ``cdga.download`` can fetch (each has a prepare rule)."""
    return [name for name, entry in DATASETS.items() if entry.arranger is not None]


def resolve(name: str, settings: Mapping, root: str | Path) -> Dataset:
    """The entry of dataset ``name`` with config block ``settings``: its own ``domains`` (a
    list, or ``every folder``: the sorted sub-folders of ``root/name``), else the built-in
    entry. ValueError names the key and value."""
    if not NAME.fullmatch(name):
        raise ValueError(f"config key datasets: bad dataset name {name!r}; use letters, digits, "
                         "underscores and hyphens")
    own = settings.get("domains")
    if own is None:
        if name not in DATASETS:
            raise ValueError(f"config key dataset_settings.{name}.domains: missing for dataset "
                             f"{name!r}, which is not built in ({sorted(DATASETS)}); list its "
                             f"domains or write {EVERY_FOLDER!r}")
        return DATASETS[name]
    if own == EVERY_FOLDER:
        folder = Path(root) / name
        if not folder.is_dir():
            raise ValueError(f"config key dataset_settings.{name}.domains: {EVERY_FOLDER!r}, but "
                             f"{str(folder)!r} is not a folder")
        own = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not own:
            raise ValueError(f"config key dataset_settings.{name}.domains: {EVERY_FOLDER!r}, but "
                             f"{str(folder)!r} has no domain folders")
    return Dataset(tuple(own), DATASETS[name].arranger if name in DATASETS else None)
