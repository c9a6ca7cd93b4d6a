"""Terra Incognita: Caltech Camera Traps images sorted into DomainBed's location/category folders.

DomainBed keeps four camera locations as domains (``location_<id>``) and ten animal categories
(including ``empty``) as classes, the registry entry's ``domains`` and ``classes``; an image
annotated with several kept categories goes to each.
Every location gets all ten class folders, so the sorted class names agree across domains.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "location_"  # a domain folder is location_<the camera location's id>


class AnnotationError(ValueError):
    """The annotation file or the image folder does not match; the message names the file."""


def convert_terra_incognita(annotations: str | Path, images: str | Path, out: str | Path,
                            domains: Sequence[str], classes: Sequence[str]) -> dict:
    """Copy each image of a kept location (``domains``) and category (``classes``) to
    ``out/location_<loc>/<category>/<file>``; return counts.

    ``annotations`` is the COCO-style json (``images`` with id/file_name/location,
    ``annotations`` with image_id/category_id, ``categories`` with id/name).
    """
    annotations, images, out = Path(annotations), Path(images), Path(out)
    locations = {d.removeprefix(PREFIX): d for d in domains}
    try:
        data = json.loads(annotations.read_text())
        names = {c["id"]: c["name"] for c in data["categories"]}
        labels: dict[object, set[str]] = defaultdict(set)
        for ann in data["annotations"]:
            labels[ann["image_id"]].add(names[ann["category_id"]])
        kept = [(img["file_name"], str(img["location"]), labels.get(img["id"], set()))
                for img in data["images"] if str(img["location"]) in locations]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"{annotations}: not a COCO-style camera-trap file ({exc!r})") from exc
    missing = [name for name, _, cats in kept
               if cats & set(classes) and not (images / name).is_file()]
    if missing:
        raise AnnotationError(
            f"{len(missing)} annotated image(s) absent from {images}, e.g. {missing[:5]}"
        )
    # Every location gets every category folder, so class indices agree across domains
    # even where a location has no image of a category.
    for domain in domains:
        for category in classes:
            (out / domain / category).mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, location, cats in kept:
        for category in sorted(cats & set(classes)):
            folder = out / locations[location] / category
            shutil.copyfile(images / name, folder / Path(name).name)
            counts[locations[location]][category] += 1
    log.info("camera-trap images per location and category: %s",
             {k: dict(v) for k, v in counts.items()})
    return {k: dict(v) for k, v in counts.items()}
