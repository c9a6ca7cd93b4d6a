"""Reading synthetic images from tar shards in place against loose PNG files.

Writes N images both ways, drops nothing from the page cache (both read warm, as a
training epoch after the first would), then times decoding every image in random order.
Usage: python benchmarks/shard_loading.py [--images N] [--size PX] [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _env import emit, header
from PIL import Image

from cdga.data.shards import TarShard, png_bytes, write_tar


def make_images(n: int, size: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    return [(f"{i:06d}.png", png_bytes(Image.fromarray(np.roll(base, i, axis=0)))) for i in range(n)]


def time_loose(folder: Path, names: list[str]) -> float:
    start = time.perf_counter()
    for name in names:
        with Image.open(folder / name) as im:
            im.convert("RGB")
    return time.perf_counter() - start


def time_shard(shard: TarShard, names: list[str]) -> float:
    start = time.perf_counter()
    for name in names:
        shard.image(name)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [header("synthetic shards vs loose PNG files", vars(args) | {"out": None}), "",
             "| size px | images | loose img/s | shard img/s | shard / loose | files on disk loose : shard |",
             "| --- | --- | --- | --- | --- | --- |"]
    for size in args.sizes:
        members = make_images(args.images, size)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for name, data in members:
                (tmp / name).write_bytes(data)
            write_tar(tmp / "shard.tar", members)
            order = [members[i][0] for i in np.random.default_rng(1).permutation(len(members))]
            shard = TarShard(tmp / "shard.tar")
            shard.names()  # builds the member index, once per worker in training: not per image
            loose = min(time_loose(tmp, order) for _ in range(args.repeats))
            tarred = min(time_shard(shard, order) for _ in range(args.repeats))
        n = len(members)
        lines.append(f"| {size} | {n} | {n / loose:,.0f} | {n / tarred:,.0f} | "
                     f"{loose / tarred:.2f} | {n} : 1 |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
