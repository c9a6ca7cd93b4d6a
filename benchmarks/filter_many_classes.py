"""The filter's scorer and keep rules at many classes: validation accuracy and kept share.

A learnable fixture with CLASSES = 12 colours x 10 shapes = 120 classes over four domains that
differ in style (white, black or noisy background, or the shape's outline only), ``--per``
images per (domain, class), split 80/20 as the study splits (train/val). Test domain
``outline``; the scorer trains on the other domains' training split (``cdga.filtering.keep
.scorer_rows``), as rule filter_scorer does, and is validated on their validation split.

"Synthetic" images per cross-domain pair of the training domains, one per real training image
of the source domain: with probability ``--bad`` a *class-changing* image (another class drawn
in the target style: what a filter should drop), otherwise the source's class redrawn in the
target style at another position and size (class-preserving). Each is scored with
``cdga.filtering.scorer.score`` from a tar shard, and each keep rule (``cdga.filtering.keep.decide``)
reports the kept share, the share of the class-changing images among the kept ones, and the
recall of the class-preserving ones.

Scorers: the demo's small CNN trained from scratch (paper.yaml's scorer before this change,
at this fixture's size) and the linear probe on ResNet-50 (paper.yaml's scorer now). With no
internet here, the probe's ResNet-50 weights are a random initialisation saved to a local file
(as tests do), not ImageNet's: its accuracy is a floor for what ImageNet features give.
No timings (the machine is shared).
Usage: python benchmarks/filter_many_classes.py [--per 10] [--resolution 32] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _env import emit, header
from PIL import Image, ImageDraw
from torchvision.models import resnet50

from cdga.data.shards import png_bytes, write_tar
from cdga.filtering import keep as filtering
from cdga.filtering import scorer

COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (128, 128, 0), (0, 128, 128),
           (170, 110, 40), (128, 0, 0)]
SHAPES = ["circle", "square", "triangle", "diamond", "cross", "hbar", "vbar", "ring", "x",
          "dots"]
CLASSES = [(c, s) for c in range(len(COLOURS)) for s in SHAPES]
DOMAINS = ["white", "black", "noise", "outline"]
TEST_ENV = "outline"


def draw(cls: int, domain: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """Class ``cls`` (colour, shape) in ``domain``'s style at a random position and scale."""
    colour, shape = COLOURS[CLASSES[cls][0]], CLASSES[cls][1]
    if domain == "noise":
        im = Image.fromarray(rng.integers(90, 170, (size, size, 3), dtype=np.uint8))
    else:
        im = Image.new("RGB", (size, size), (0, 0, 0) if domain == "black" else (255, 255, 255))
    d = ImageDraw.Draw(im)
    r = int(rng.integers(size // 5, size // 3))
    cx, cy = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
    box = (cx - r, cy - r, cx + r, cy + r)
    fill, line = (None, colour) if domain == "outline" else (colour, colour)
    w = max(2, r // 3)
    if shape == "circle":
        d.ellipse(box, fill=fill, outline=line, width=2)
    elif shape == "square":
        d.rectangle(box, fill=fill, outline=line, width=2)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill, outline=line)
    elif shape == "diamond":
        d.polygon([(cx, cy - r), (cx - r, cy), (cx, cy + r), (cx + r, cy)], fill=fill, outline=line)
    elif shape == "cross":
        d.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill, outline=line)
        d.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill, outline=line)
    elif shape == "hbar":
        d.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill, outline=line, width=2)
    elif shape == "vbar":
        d.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill, outline=line, width=2)
    elif shape == "ring":
        d.ellipse(box, outline=colour, width=w)
    elif shape == "x":
        d.line((cx - r, cy - r, cx + r, cy + r), fill=colour, width=w)
        d.line((cx - r, cy + r, cx + r, cy - r), fill=colour, width=w)
    else:  # dots
        q = r // 2
        d.ellipse((cx - r, cy - q, cx - r + 2 * q, cy + q), fill=fill, outline=line)
        d.ellipse((cx + r - 2 * q, cy - q, cx + r, cy + q), fill=fill, outline=line)
    return im


def build(root: Path, per: int, seed: int) -> pd.DataFrame:
    """The fixture's image files and split table (path, domain, split, class_index, class_name)."""
    rng = np.random.default_rng(seed)
    rows = []
    for domain in DOMAINS:
        for cls, (colour, shape) in enumerate(CLASSES):
            name = f"colour{colour}_{shape}"
            for k in range(per):
                path = root / domain / name / f"{k}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                draw(cls, domain, rng).save(path)
                rows.append({"path": str(path), "domain": domain, "class_index": cls,
                             "class_name": name, "split": "val" if k < per // 5 else "train"})
    return pd.DataFrame(rows)


def synthetic(root: Path, rows: pd.DataFrame, bad: float, seed: int) -> pd.DataFrame:
    """One shard per cross-domain pair of the training domains; its manifest rows with
    ``changed`` (the image shows another class)."""
    rng = np.random.default_rng(seed + 1)
    domains = [d for d in DOMAINS if d != TEST_ENV]
    parts = []
    for src in domains:
        real = rows[(rows["domain"] == src) & (rows["split"] == "train")]
        for tgt in (d for d in domains if d != src):
            changed = rng.random(len(real)) < bad
            drawn = np.where(changed, (real["class_index"].to_numpy()
                                       + rng.integers(1, len(CLASSES), len(real))) % len(CLASSES),
                             real["class_index"].to_numpy())
            members = [(f"{k:05d}.png", png_bytes(draw(int(c), tgt, rng))) for k, c in enumerate(drawn)]
            tar = root / "shards" / f"{src}_{tgt}.tar"
            tar.parent.mkdir(exist_ok=True)
            write_tar(tar, members)
            parts.append(pd.DataFrame({
                "shard": str(tar), "member": [m for m, _ in members], "source_domain": src,
                "target_domain": tgt, "rep": 0, "class_index": real["class_index"].to_numpy(),
                "changed": changed}))
    return pd.concat(parts, ignore_index=True)


RULES = [{"rule": "threshold", "threshold": 0.5}, {"rule": "top_share", "top_share": 0.75},
         {"rule": "class_share", "class_share": 0.75}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per", type=int, default=10, help="images per (domain, class)")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--bad", type=float, default=0.3, help="share of class-changing images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        split = build(root / "data", args.per, args.seed)
        train_rows = filtering.scorer_rows(split, TEST_ENV, None, args.seed)
        val = split[(split["domain"] != TEST_ENV) & (split["split"] == "val")]
        fake = synthetic(root, train_rows, args.bad,
                         args.seed)
        torch.manual_seed(0)
        weights = root / "resnet50_random.pth"
        torch.save(resnet50(weights=None).state_dict(), weights)
        base = {"resolution": args.resolution, "seed": args.seed, "max_real_per_domain": None}
        scorers = {
            "small_cnn (from scratch)": {**base, "backbone": "small_cnn", "weights": None,
                                         "epochs": 15, "batch_size": 64, "lr": 1e-3, "shift": 2},
            "resnet50 linear probe (random-init weights)": {
                **base, "backbone": "resnet50", "weights": str(weights), "epochs": 30,
                "batch_size": 256, "lr": 1e-3, "shift": 0},
        }
        lines = [header("Filter scorer and keep rules at many classes", {
            "classes": len(CLASSES), "domains": DOMAINS, "test_env": TEST_ENV,
            "per (domain, class)": args.per, "resolution": args.resolution,
            "class-changing share": args.bad, "scorer train images": len(train_rows),
            "val images": len(val), "synthetic images": len(fake), "seed": args.seed}),
            "", f"command: python benchmarks/{Path(__file__).name} " + " ".join(sys.argv[1:]), "",
            ("| scorer | val acc | chance | rule | kept share | class-changing among kept "
            "| class-preserving kept | pairs x classes with none kept |"),
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        print(f"fixture built: {len(split)} real, {len(fake)} synthetic", file=sys.stderr, flush=True)
        for name, opts in scorers.items():
            model = scorer.train(train_rows, len(CLASSES), opts)
            print(f"{name}: trained", file=sys.stderr, flush=True)
            acc = scorer.accuracy(model, val, args.resolution)
            scored = scorer.score(model, fake, args.resolution, 256)
            for rule in RULES:
                keep = filtering.decide(scored, rule).to_numpy()
                kept = scored[keep]
                groups = scored.assign(keep=keep).groupby(
                    [*filtering.PAIR, "class_index"])["keep"].sum()
                good = ~scored["changed"]
                lines.append(
                    f"| {name} | {acc:.3f} | {1 / len(CLASSES):.3f} | {rule['rule']} "
                    f"{rule[rule['rule']]} | {keep.mean():.3f} | "
                    f"{kept['changed'].mean() if len(kept) else float('nan'):.3f} | "
                    f"{keep[good.to_numpy()].mean():.3f} | {int((groups == 0).sum())} of "
                    f"{len(groups)} |")
            print(lines[-1], flush=True)
        lines += ["", f"Class-changing share among all synthetic images: {fake['changed'].mean():.3f}."]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
