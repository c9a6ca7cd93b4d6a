"""Stand-in generation shards that follow the synthetic-shard contract (tar + manifest CSV), for
the assembly, filter, quality and training tests: each image is its source image with inverted
colours (or a copy), so no LDM is needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from PIL import Image, ImageOps

from cdga.core import layout
from cdga.core.io import write_csv
from cdga.data.shards import png_bytes, write_tar


def write_shard(tar: Path, split_table: pd.DataFrame, variant: str, src: str, tgt: str,
                rep: int = 0, copy: bool = False, size: int | None = None,
                **columns: object) -> Path:
    """Write shard ``tar`` and its manifest for pair src->tgt: one image per training image of
    ``src``, inverted (or a copy), at ``size`` px when given; ``columns`` are added to every
    manifest row. Returns the manifest path."""
    sources = split_table[(split_table["domain"] == src) & (split_table["split"] == "train")]
    guides = split_table[(split_table["domain"] == tgt) & (split_table["split"] == "train")]
    members, rows = [], []
    for k, row in enumerate(sources.itertuples()):
        with Image.open(row.path) as im:
            image = im.convert("RGB") if copy else ImageOps.invert(im.convert("RGB"))
        if size:
            image = image.resize((size, size), Image.BICUBIC)
        name = f"{k:05d}.png"
        members.append((name, png_bytes(image)))
        same = guides[guides["class_index"] == row.class_index]
        guide = same["path"].iloc[k % len(same)] if variant == "ig" else ""
        rows.append({"member": name, "shard": str(tar), "source_path": row.path,
                     "source_domain": src, "target_domain": tgt,
                     "class_index": row.class_index, "class_name": row.class_name,
                     "guide_path": guide, "lam": 0.5 if variant == "ig" else "",
                     "prompt": f"{tgt} {row.class_name}", "seed": k, "model": "fake",
                     "variant": variant, "rep": rep, "strength": 0.8, **columns})
    write_tar(tar, members)
    manifest = Path(layout.manifest_of(str(tar)))
    write_csv(manifest, pd.DataFrame(rows))
    return manifest


def make_shard(workdir: Path, split_table: pd.DataFrame, dataset: str, variant: str,
               src: str, tgt: str, rep: int, shard: int = 0) -> Path:
    """The shard of pair src->tgt where the workflow puts it (cdga.core.layout) under ``workdir``;
    returns its manifest path."""
    tar = workdir / layout.synthetic_shard(dataset, variant, src, tgt, rep, shard)
    return write_shard(tar, split_table, variant, src, tgt, rep)


def make_pairs(workdir: Path, split_table: pd.DataFrame, dataset: str, variant: str,
               pairs: Sequence[tuple[str, str]], reps: int) -> list[Path]:
    """Shards of every pair and rep 0..reps-1; returns their manifest paths."""
    return [make_shard(workdir, split_table, dataset, variant, s, t, r)
            for s, t in pairs for r in range(reps)]
