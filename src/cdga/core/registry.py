"""The datasets the study knows, DomainBed style, as entries of one kind (torch-free).

A dataset is a folder ``<datasets_root>/<name>/<domain>/<class>/`` with ordered domains. The
built-in entries below are DomainBed's five (``arranger``: how ``cdga.data.download`` turns their
downloaded sources into that layout; the accuracies DomainBed reports for them) and the demo's
``DEMO`` (rendered by a rule). Any other dataset is defined by its config block alone
(``dataset_settings.<name>.domains``: a list, or ``every folder`` of its folder, read when the
workflow starts): ``resolve``. No other module names a dataset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

NAME = re.compile(r"[A-Za-z0-9_-]+")  # dataset names: also the workflow's wildcard pattern
EVERY_FOLDER = "every folder"


@dataclass(frozen=True)
class Dataset:
    """``domains`` in DomainBed's environment order; ``arranger``: the ``cdga.data.download``
    recipe that builds the folder from the config's ``downloads`` sources (None: the folder
    is already there, or a rule makes it) and ``inner``, the archive's folder it moves;
    ``domainbed_folder``: DomainBed's name of the folder where it differs; ``domainbed``:
    DomainBed's ``datasets.DATASETS`` has it; ``reported``: DomainBed's published average
    accuracy (%, ResNet-50, training-domain validation) per algorithm."""

    domains: tuple[str, ...]
    arranger: str | None = None
    inner: str | None = None
    domainbed_folder: str | None = None
    domainbed: bool = False
    reported: Mapping[str, float] = field(default_factory=dict)
    classes: tuple[str, ...] = ()  # the class folders, where a recipe makes them


DEMO = "DemoDigits"  # the demo dataset, rendered by rule make_demo_digits (cdga.data.demo_digits)
DEMO_PRETRAIN = f"{DEMO}_pretrain"  # beside it under datasets_root: the demo LDM's corpus

# Gulrajani & Lopez-Paz (ICLR 2021), Table 3 averages: reported, not measured by this study.
DATASETS: dict[str, Dataset] = {
    DEMO: Dataset(("photo", "art_painting", "cartoon", "sketch"),
                  classes=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                           "nine")),
    "PACS": Dataset(("art_painting", "cartoon", "photo", "sketch"), arranger="move", inner="kfold",
                    domainbed=True, reported={"ERM": 85.5, "CORAL": 86.2, "Mixup": 84.6}),
    "VLCS": Dataset(("Caltech101", "LabelMe", "SUN09", "VOC2007"), arranger="move", inner="VLCS",
                    domainbed=True, reported={"ERM": 77.5, "CORAL": 78.8, "Mixup": 77.4}),
    "OfficeHome": Dataset(("Art", "Clipart", "Product", "Real World"), arranger="move",
                          inner="OfficeHomeDataset_10072016", domainbed_folder="office_home",
                          domainbed=True, reported={"ERM": 66.5, "CORAL": 68.7, "Mixup": 68.1}),
    "TerraIncognita": Dataset(("location_100", "location_38", "location_43", "location_46"),
                              arranger="camera_traps", domainbed_folder="terra_incognita",
                              domainbed=True, reported={"ERM": 46.1, "CORAL": 47.6, "Mixup": 47.9},
                              classes=("bird", "bobcat", "cat", "coyote", "dog", "empty", "opossum",
                                       "rabbit", "raccoon", "squirrel")),
    "DomainNet": Dataset(("clipart", "infograph", "painting", "quickdraw", "real", "sketch"),
                         arranger="domain_archives", domainbed_folder="domain_net", domainbed=True,
                         reported={"ERM": 40.9, "CORAL": 41.5, "Mixup": 39.2}),
}
DEMO_CLASSES = DATASETS[DEMO].classes


def domains(dataset: str) -> tuple[str, ...]:
    """Return the domains of built-in ``dataset``; raise a KeyError naming the known datasets."""
    try:
        return DATASETS[dataset].domains
    except KeyError:
        raise KeyError(f"unknown dataset {dataset!r}; known: {sorted(DATASETS)}") from None


def in_domainbed() -> list[str]:
    """The built-in datasets DomainBed's ``datasets.DATASETS`` has."""
    return [name for name, entry in DATASETS.items() if entry.domainbed]


def reported() -> dict[str, dict[str, float]]:
    """DomainBed's published accuracies: algorithm -> {dataset: %}, in entry order."""
    out: dict[str, dict[str, float]] = {}
    for name, entry in DATASETS.items():
        for algorithm, value in entry.reported.items():
            out.setdefault(algorithm, {})[name] = value
    return out


def downloadable() -> list[str]:
    """The built-in datasets ``cdga.data.download`` can fetch (each has a prepare rule)."""
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
    return replace(DATASETS[name], domains=tuple(own)) if name in DATASETS else Dataset(tuple(own))
