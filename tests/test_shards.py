"""Tar shards: atomic, deterministic writes and random-access reads without extraction, in
every image format."""

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cdga.data.shards import (
    IMAGE_FORMATS,
    ShardError,
    TarShard,
    image_bytes,
    png_bytes,
    storage_settings,
    write_tar,
)


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


def smooth(size: int = 32, seed: int = 0) -> Image.Image:
    """An image with gradients and edges, as generated images have (noise would defeat JPEG)."""
    y, x = np.mgrid[0:size, 0:size] / size
    rng = np.random.default_rng(seed)
    rgb = np.stack([x, y, (x > 0.5) * (1 - y)], axis=2) * 200 + rng.integers(0, 8, (size, size, 3))
    return Image.fromarray(rgb.astype(np.uint8))


@pytest.mark.parametrize("image_format", list(IMAGE_FORMATS))
def test_every_format_roundtrips_through_writer_and_reader(tmp_path: Path, image_format: str) -> None:
    originals = {f"src__{k}.png": smooth(seed=k) for k in range(3)}
    quality = None if image_format == "png" else 90
    write_tar(tmp_path / "s.tar", [(n, image_bytes(im, image_format, quality)) for n, im in originals.items()])
    shard = TarShard(tmp_path / "s.tar")
    for name, original in originals.items():
        with Image.open(io.BytesIO(shard.read(name))) as im:
            assert im.format == IMAGE_FORMATS[image_format]
        decoded = np.asarray(shard.image(name)).astype(int)
        assert decoded.shape == (32, 32, 3)
        error = np.abs(decoded - np.asarray(original).astype(int))
        if image_format == "png":
            assert error.max() == 0
        else:
            assert 0 < error.mean() < 6  # lossy, but close at quality 90


def test_png_is_todays_encoding_and_ignores_quality() -> None:
    image = smooth()
    plain = io.BytesIO()
    image.save(plain, format="PNG")
    assert image_bytes(image) == image_bytes(image, "png", 10) == png_bytes(image) == plain.getvalue()
    assert storage_settings({"image_format": "png", "image_quality": 10}) == {}
    assert storage_settings({"steps": 10}) == {}  # configs from before the storage keys
    assert storage_settings({"image_format": "webp", "image_quality": 80}) == {"image_format": "webp",
                                                                           "image_quality": 80}


@pytest.mark.parametrize("image_format", ["jpeg", "webp"])
def test_lossy_quality_trades_bytes_for_fidelity(image_format: str) -> None:
    image = smooth(64)
    low, high = (image_bytes(image, image_format, q) for q in (30, 95))
    assert len(low) < len(high) < len(png_bytes(image))
    assert image_bytes(image, image_format, 30) == low  # deterministic
    with pytest.raises(ValueError, match=f"image_quality None must be 1-100 for image_format '{image_format}'"):
        image_bytes(image, image_format)


def test_unknown_format_and_undecodable_member_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown generation.image_format 'gif'"):
        image_bytes(smooth(), "gif", 90)
    gif = io.BytesIO()
    smooth().save(gif, format="GIF")
    write_tar(tmp_path / "s.tar", [("a.png", gif.getvalue()), ("b.png", b"not an image")])
    for name in ("a.png", "b.png"):
        with pytest.raises(ShardError, match=rf"member '{name}' of synthetic shard .*s\.tar.* not a readable"):
            TarShard(tmp_path / "s.tar").image(name)


def test_fast_header_walk_agrees_with_tarfile(tmp_path: Path) -> None:
    """The index read from write_tar's USTAR headers is tarfile's, long names included; a tar
    of another dialect (GNU long names, a directory member) is left to tarfile."""
    from cdga.data.shards import plain_ustar_members, tarfile_members

    names = [f"{'d' * 120}/img{k:03d}.png" for k in range(3)] + ["a.png", "b" * 99]
    write_tar(tmp_path / "s.tar", ((n, bytes(k * 700)) for k, n in enumerate(names)))
    assert plain_ustar_members(tmp_path / "s.tar") == tarfile_members(tmp_path / "s.tar")
    assert TarShard(tmp_path / "s.tar").names() == names
    assert TarShard(tmp_path / "s.tar").read("b" * 99) == bytes(4 * 700)
    with tarfile.open(tmp_path / "gnu.tar", "w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("x" * 150))
        info = tarfile.TarInfo("dir")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    assert plain_ustar_members(tmp_path / "gnu.tar") is None
    assert TarShard(tmp_path / "gnu.tar").names() == ["x" * 150]
