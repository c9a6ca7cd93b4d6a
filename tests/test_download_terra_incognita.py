"""TerraIncognita: the camera-trap annotation file converted to DomainBed's folders."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from cdga.core.registry import DATASETS
from cdga.data.download import Source, prepare
from cdga.data.terra_incognita import AnnotationError, convert_terra_incognita

KEPT = (DATASETS["TerraIncognita"].domains, DATASETS["TerraIncognita"].classes)

CATEGORIES = [{"id": 1, "name": "bobcat"}, {"id": 6, "name": "deer"}, {"id": 9, "name": "empty"},
              {"id": 3, "name": "rabbit"}]
# (file, location as stored, category ids); location 99 and category deer are not kept.
IMAGES = [
    ("a.jpg", 38, [1]),
    ("b.jpg", "38", [9]),
    ("c.jpg", 46, [1, 3]),      # two kept categories: copied to both
    ("d.jpg", 100, [6]),        # deer only: dropped
    ("e.jpg", 43, [3, 6]),      # rabbit kept, deer dropped
    ("f.jpg", 99, [1]),         # other location: dropped
    ("g.jpg", 100, [9]),
    ("h.jpg", 43, []),          # no annotation: dropped
]
EXPECTED = {
    "location_38/bobcat/a.jpg", "location_38/empty/b.jpg", "location_46/bobcat/c.jpg",
    "location_46/rabbit/c.jpg", "location_43/rabbit/e.jpg", "location_100/empty/g.jpg",
}


def annotation(path: Path) -> dict:
    data = {
        "images": [{"id": f"id-{name}", "file_name": name, "location": loc}
                   for name, loc, _ in IMAGES],
        "annotations": [{"id": f"ann-{name}-{c}", "image_id": f"id-{name}", "category_id": c}
                        for name, _, cats in IMAGES for c in cats],
        "categories": CATEGORIES,
    }
    path.write_text(json.dumps(data))
    return data


def write_images(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, _, _ in IMAGES:
        (folder / name).write_bytes(name.encode())


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_conversion_keeps_domainbed_locations_and_categories(tmp_path: Path) -> None:
    annotation(tmp_path / "labels.json")
    write_images(tmp_path / "images")
    counts = convert_terra_incognita(tmp_path / "labels.json", tmp_path / "images", tmp_path / "out", *KEPT)
    assert tree(tmp_path / "out") == EXPECTED
    for location in ("location_38", "location_46", "location_43", "location_100"):
        assert sorted(p.name for p in (tmp_path / "out" / location).iterdir()) == [
            "bird", "bobcat", "cat", "coyote", "dog", "empty", "opossum", "rabbit", "raccoon",
            "squirrel"]
    assert (tmp_path / "out" / "location_46" / "rabbit" / "c.jpg").read_bytes() == b"c.jpg"
    assert counts == {"location_38": {"bobcat": 1, "empty": 1}, "location_46": {"bobcat": 1, "rabbit": 1},
                      "location_43": {"rabbit": 1}, "location_100": {"empty": 1}}


def test_missing_image_and_bad_json_are_named(tmp_path: Path) -> None:
    annotation(tmp_path / "labels.json")
    write_images(tmp_path / "images")
    (tmp_path / "images" / "g.jpg").unlink()
    with pytest.raises(AnnotationError, match=r"1 annotated image\(s\) absent .*g\.jpg"):
        convert_terra_incognita(tmp_path / "labels.json", tmp_path / "images", tmp_path / "out", *KEPT)
    (tmp_path / "bad.json").write_text('{"images": []}')
    with pytest.raises(AnnotationError, match=r"bad\.json: not a COCO-style"):
        convert_terra_incognita(tmp_path / "bad.json", tmp_path / "images", tmp_path / "out", *KEPT)


def test_prepare_from_image_tarball_and_zipped_annotations(tmp_path: Path) -> None:
    """The two DomainBed sources: images .tar.gz and the annotation .json.zip."""
    annotation(tmp_path / "labels.json")
    images = tmp_path / "images.tar.gz"
    with tarfile.open(images, "w:gz") as tf:
        for name, _, _ in IMAGES:
            info = tarfile.TarInfo(f"eccv_18_all_images_sm/{name}")
            info.size = len(name)
            tf.addfile(info, io.BytesIO(name.encode()))
    labels = tmp_path / "labels.json.zip"
    with zipfile.ZipFile(labels, "w") as zf:
        zf.write(tmp_path / "labels.json", "caltech_images_20210113.json")
    summary = prepare("TerraIncognita", tmp_path / "data", [
        Source(images.as_uri(), "eccv_18_all_images_sm.tar.gz"),
        Source(labels.as_uri(), "caltech_camera_traps.json.zip"),
    ])
    assert tree(tmp_path / "data" / "TerraIncognita") == EXPECTED
    assert summary["images"] == {"location_100": 1, "location_38": 2, "location_43": 1,
                                 "location_46": 2}
