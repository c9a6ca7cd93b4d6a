"""Tar shards: atomic, deterministic writes and random-access reads without extraction."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdga.shards import ShardError, TarShard, png_bytes, write_tar


def images(n: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(0)
    return [(f"img{i:03d}.png", png_bytes(Image.fromarray(rng.integers(0, 255, (6, 6, 3), np.uint8))))
            for i in range(n)]


def test_roundtrip_by_name_in_any_order(tmp_path: Path) -> None:
    members = images(7)
    write_tar(tmp_path / "s.tar", members)
    shard = TarShard(tmp_path / "s.tar")
    assert shard.names() == [n for n, _ in members]
    for name, data in reversed(members):
        assert shard.read(name) == data
    assert shard.image("img003.png").size == (6, 6)
    assert not list(tmp_path.glob(".*tmp*"))


def test_same_members_give_identical_bytes(tmp_path: Path) -> None:
    write_tar(tmp_path / "a.tar", images(3))
    write_tar(tmp_path / "b.tar", images(3))
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_pickled_reader_reopens_and_reads(tmp_path: Path) -> None:
    members = images(3)
    write_tar(tmp_path / "s.tar", members)
    shard = TarShard(tmp_path / "s.tar")
    shard.read("img000.png")
    clone = pickle.loads(pickle.dumps(shard))
    assert clone.read("img002.png") == members[2][1]


def test_missing_member_and_file_are_named(tmp_path: Path) -> None:
    write_tar(tmp_path / "s.tar", images(1))
    with pytest.raises(KeyError, match=r"'nope\.png' is not in shard .*s\.tar"):
        TarShard(tmp_path / "s.tar").read("nope.png")
    with pytest.raises(FileNotFoundError, match="gone.tar"):
        TarShard(tmp_path / "gone.tar").names()


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def broken():
        yield "a.png", b"x"
        raise RuntimeError("generation died")
    with pytest.raises(RuntimeError):
        write_tar(tmp_path / "s.tar", broken())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["mid_data", "at_header", "mid_header", "before_marker"])
def test_truncated_shard_names_the_file(tmp_path: Path, where: str) -> None:
    """A shard cut short (a killed copy, a full disk) fails with its path, not a bare tar error."""
    write_tar(tmp_path / "s.tar", images(5))
    offset, size = TarShard(tmp_path / "s.tar").index["img003.png"]
    header = offset - 512
    last_offset, _ = TarShard(tmp_path / "s.tar").index["img004.png"]
    cut = {"mid_data": offset + size // 2, "at_header": header, "mid_header": header + 100,
           "before_marker": last_offset + 512}[where]
    raw = (tmp_path / "s.tar").read_bytes()
    (tmp_path / "s.tar").write_bytes(raw[:cut])
    shard = TarShard(tmp_path / "s.tar")
    with pytest.raises(ShardError, match=r"s\.tar.*truncated|s\.tar.*corrupt"):
        for name in shard.names():
            shard.image(name)


def test_intact_shard_passes_the_end_marker_check(tmp_path: Path) -> None:
    write_tar(tmp_path / "s.tar", images(3))
    assert len(TarShard(tmp_path / "s.tar").names()) == 3
