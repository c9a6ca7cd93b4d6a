"""The DomainBed-layout reader, its errors, and the deterministic split."""

from pathlib import Path

import pandas as pd
import pytest

from cdga.data.datasets import DatasetError, index_dataset, list_images, split_by_domain


def test_lists_every_image_with_shared_classes(tiny_dataset: Path) -> None:
    frame = list_images(tiny_dataset, "Toy")
    assert len(frame) == 30
    assert sorted(frame["domain"].unique()) == ["a", "b", "c"]
    assert frame.groupby("class_name")["class_index"].unique().to_dict() == {"cat": [0], "dog": [1]}
    assert frame["path"].map(lambda p: Path(p).is_file()).all()


def test_split_is_seeded_per_domain_and_stable(tiny_dataset: Path) -> None:
    frame = list_images(tiny_dataset, "Toy")
    one = split_by_domain(frame, 0.2, seed=3)
    two = split_by_domain(frame.sample(frac=1, random_state=1), 0.2, seed=3)
    pd.testing.assert_frame_equal(one, two)
    assert (one.groupby("domain")["split"].apply(lambda s: (s == "val").sum()) == 2).all()
    other = split_by_domain(frame, 0.2, seed=4)
    assert not one["split"].equals(other["split"])
    # A domain's split does not depend on which other domains are present.
    only_a = split_by_domain(frame[frame.domain == "a"], 0.2, seed=3)
    assert only_a["split"].tolist() == one[one.domain == "a"]["split"].tolist()


def test_missing_root_names_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nowhere"):
        list_images(tmp_path / "nowhere", "Toy")


def test_missing_domain_is_named(tiny_dataset: Path) -> None:
    with pytest.raises(DatasetError, match=r"lacks domain folder\(s\) \['z'\]"):
        list_images(tiny_dataset, "Toy", ["a", "z"])


def test_class_missing_from_one_domain_is_named(tiny_dataset: Path) -> None:
    for f in (tiny_dataset / "Toy" / "b" / "dog").iterdir():
        f.unlink()
    (tiny_dataset / "Toy" / "b" / "dog").rmdir()
    with pytest.raises(DatasetError, match=r"Toy/b.*lacks class folder\(s\) \['dog'\]"):
        list_images(tiny_dataset, "Toy")


def test_empty_domain_is_named(tiny_dataset: Path) -> None:
    for c in ("cat", "dog"):
        for f in (tiny_dataset / "Toy" / "c" / c).iterdir():
            f.unlink()
    with pytest.raises(DatasetError, match=r"Toy/c.*no images"):
        list_images(tiny_dataset, "Toy")


def test_corrupt_image_is_named_not_skipped(tiny_dataset: Path) -> None:
    bad = tiny_dataset / "Toy" / "a" / "cat" / "2.png"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(DatasetError, match=r"(?s)1 unreadable or corrupt.*a/cat/2\.png"):
        index_dataset(tiny_dataset, "Toy", None, 0.2, 0)
