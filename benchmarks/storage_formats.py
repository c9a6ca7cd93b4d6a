"""Shard storage per ``generation.image_format``: bytes per image, training-loader decode rate and
generation-quality rates, on the demo and at 512 px.

* Demo: the trained demo LDM generates PG and IG images at today's settings
  (config/config.yaml) for ``--per-pair`` seeded sources per ordered pair, through
  ``cdga.generation.generate.generate_shard`` as PNG. Encoding is the last step of a job, so each lossy
  shard holds exactly what a job with that format writes: the same images through
  ``cdga.data.shards.image_bytes``. Each shard is read through the training loader
  (``cdga.training.loader.ImageRows`` + DataLoader, the demo's training transform at its resolution) and
  scored by ``cdga.generation.quality`` (one pair of classifiers trained on the real images).
* 512 px: (a) Stable Diffusion v1.5's architecture with random weights (img2img from the photos
  below at 512 px): its images are noise-like, far less compressible than a trained model's,
  so its bytes are an upper bound; (b) scikit-image's bundled colour photographs, centre-cropped
  and resized to 512 px, standing in for a trained model's natural-looking images. Both are
  read through the training loader with the paper's transform (RandomResizedCrop 224, flips,
  colour jitter). No quality rates at 512 px: random weights make no images to score.

The paper study's terabytes are its synthetic image count times the bytes per image.
Usage: python storage_formats.py --run-dir DIR [--per-pair N] [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import skimage.data
import torch
import yaml
from _env import emit, header
from diffusers import DDIMScheduler, StableDiffusionImg2ImgPipeline
from generation_frontier import DATASET, sample_plans
from generation_throughput import sd15_components
from PIL import Image
from torch.utils.data import DataLoader

from cdga.data.shards import TarShard, image_bytes, write_tar
from cdga.generation import demo_ldm, ldm
from cdga.generation import generate as generation
from cdga.generation import quality as gq
from cdga.training import loader as data

REPO = Path(__file__).resolve().parents[1]
FORMATS = [("png", None), ("jpeg", 75), ("jpeg", 90), ("jpeg", 95), ("webp", 75), ("webp", 90)]
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry"]
PAPER_IMAGES = 21.68e6  # README scale table: PACS 0.22 + VLCS 0.14 + OfficeHome 0.35 + TI 0.32 + DomainNet 20.65 M


def label(fmt: str, quality: int | None) -> str:
    return fmt if quality is None else f"{fmt} q{quality}"


def write_format(images: dict[str, Image.Image], fmt: str, quality: int | None, tar: Path) -> float:
    """Write ``images`` as one shard in ``fmt``; mean member bytes."""
    members = [(name, image_bytes(im, fmt, quality)) for name, im in images.items()]
    write_tar(tar, members)
    return float(np.mean([len(b) for _, b in members]))


def loader_rate(tar: Path, names: list[str], transform, repeats: int) -> float:
    """Images/s through ImageRows and a DataLoader (no workers, no cache), best of ``repeats``."""
    rows = pd.DataFrame({"path": names, "shard": str(tar), "class_index": 0})
    loader = DataLoader(data.ImageRows(rows, transform), batch_size=32, num_workers=0)
    best = 0.0
    for _ in range(repeats):
        torch.manual_seed(0)
        start = time.perf_counter()
        for _batch in loader:
            pass
        best = max(best, len(names) / (time.perf_counter() - start))
    return best


def photos(size: int) -> dict[str, Image.Image]:
    """scikit-image's colour photographs, centre-cropped square and resized to ``size``."""
    out = {}
    for name in PHOTOS:
        im = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        out[f"{name}.png"] = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    return out


def random_sd15(steps: int, strength: float, sources: dict[str, Image.Image]) -> dict[str, Image.Image]:
    """img2img from ``sources`` (at their size) with SD v1.5's architecture and random weights."""
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = demo_ldm.build_tokenizer(["a photo of a cat"], Path(tmp), 77)
    vae, unet, text = sd15_components(77, len(tokenizer))
    pipe = StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                          scheduler=DDIMScheduler(**demo_ldm.SD_SCHEDULER), safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    out = {}
    with torch.no_grad():
        for k, (name, image) in enumerate(sources.items()):
            out[name] = pipe(prompt="a photo of a cat", image=image, strength=strength, num_inference_steps=steps,
                             guidance_scale=7.5, generator=torch.Generator().manual_seed(k)).images[0]
    return out


def demo_part(args, config: dict, tmp: Path) -> tuple[list[dict], int]:
    gen_cfg, train_cfg = config["generation"], config["training"]
    opts = {**config["generation_quality"], "max_real_per_domain": args.max_real_per_domain}
    run_dir = args.run_dir.resolve()
    table = pd.read_csv(run_dir / "results" / "splits" / f"{DATASET}.csv")
    table["path"] = [str(run_dir / p) for p in table["path"]]
    settings = config["dataset_settings"][DATASET]
    pipe = ldm.load_pipeline(str(run_dir / "results" / "models" / "demo_ldm"), "cpu", scheduler=gen_cfg["scheduler"])
    scorers = gq.train_scorers(table, sorted(table["domain"].unique()), opts, opts["resolution"])
    transform = data.train_transform(train_cfg["resolution"], train_cfg["augment"])
    manifests, images = [], {}
    for variant in ("pg", "ig"):
        params = generation.GenerationParams.from_config(gen_cfg, variant)
        plan = sample_plans(table, settings, params, args.per_pair, opts["seed"])
        plan = plan.assign(member=variant + "__" + plan["member"])
        tar = tmp / f"demo_{variant}.tar"
        generation.generate_shard(pipe, plan, params, "demo_ldm", tar, tar.with_suffix(".csv"), progress=False)
        manifests.append(pd.read_csv(tar.with_suffix(".csv"), keep_default_na=False))
        shard = TarShard(tar)
        images |= {n: shard.image(n) for n in shard.names()}
    manifest = pd.concat(manifests, ignore_index=True)
    rows, base = [], None
    for fmt, quality in FORMATS:
        tar = tmp / f"demo_{label(fmt, quality).replace(' ', '_')}.tar"
        size = write_format(images, fmt, quality, tar)
        summary, scores = gq.score(scorers, manifest.assign(shard=str(tar)), opts, ["variant"])
        base = scores if base is None else base
        error = np.mean([np.abs(np.asarray(TarShard(tar).image(n), float) - np.asarray(images[n], float)).mean()
                         for n in images])
        by = summary.set_index("variant")
        rows.append({"images": "demo LDM output", "format": label(fmt, quality), "bytes/image": size,
                     "loader img/s": loader_rate(tar, list(images), transform, args.repeats),
                     "mean abs error (grey levels)": error,
                     **{f"{v} {k}": by.loc[v, c] for v in ("pg", "ig")
                        for k, c in (("in target", "target_domain_rate"), ("class kept", "class_kept_rate"),
                                     ("near-dup", "near_duplicate_rate"))},
                     "images changed verdict": int(((scores["in_target"] != base["in_target"])
                                                    | (scores["class_kept"] != base["class_kept"])).sum())})
    return rows, len(images)


def big_part(args, tmp: Path) -> list[dict]:
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())["training"]
    transform = data.train_transform(paper["resolution"], paper["augment"])
    sources = photos(args.size)
    t0 = time.perf_counter()
    sd = random_sd15(args.sd_steps, args.sd_strength, dict(list(sources.items())[: args.sd_images]))
    sd_s = time.perf_counter() - t0
    rows = []
    for what, images in (("photos (stand-in for SD output)", sources), ("random-weight SD v1.5 output", sd)):
        repeat = {f"{k}_{n}": im for k in range(args.copies) for n, im in images.items()}  # timing volume
        for fmt, quality in FORMATS:
            tar = tmp / f"big_{len(rows)}.tar"
            size = write_format(images, fmt, quality, tmp / "sizes.tar")
            write_format(repeat, fmt, quality, tar)
            rows.append({"images": f"{what}, {len(images)}", "format": label(fmt, quality), "bytes/image": size,
                         "loader img/s": loader_rate(tar, list(repeat), transform, args.repeats),
                         "paper study TB": size * PAPER_IMAGES / 1e12})
    print(f"random SD v1.5 img2img: {sd_s:.0f} s for {len(sd)} images", flush=True)
    return rows


def relative(frame: pd.DataFrame, column: str) -> pd.Series:
    """``column`` over the PNG row's value of the same images."""
    png = frame[frame["format"] == "png"].set_index("images")[column]
    return frame[column] / frame["images"].map(png)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--per-pair", type=int, default=3)
    parser.add_argument("--max-real-per-domain", type=int, default=100, help="generation_quality's cap for the scorers")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--sd-images", type=int, default=1, help="photos run through the random SD v1.5")
    parser.add_argument("--sd-steps", type=int, default=2)
    parser.add_argument("--sd-strength", type=float, default=0.5)
    parser.add_argument("--copies", type=int, default=3, help="copies of each 512 px image in the timed shard")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        demo, n_demo = demo_part(args, config, Path(tmp))
        big = big_part(args, Path(tmp))
    demo, big = pd.DataFrame(demo), pd.DataFrame(big)
    for frame in (demo, big):
        frame.insert(3, "bytes vs png", relative(frame, "bytes/image"))
        frame.insert(5, "decode vs png", relative(frame, "loader img/s"))
    lines = [header("shard storage per image format", {k: v for k, v in vars(args).items() if k not in ("out", "run_dir")}),
             ("Decode rates (training loader img/s, one process, no workers, best of the repeats) are ratios within "
              "this one run; other jobs may have been running on the machine."), "",
             (f"## Demo LDM, {config['generation']['resolution']} px ({n_demo} PG + IG images, today's settings; "
             f"loader at {config['training']['resolution']} px with the demo transform)"), "",
             demo.to_markdown(index=False, floatfmt=".3f"), "",
             "images changed verdict: images whose in-target or class-kept verdict differs from the PNG shard's.", "",
             f"## {args.size} px (loader at 224 px with the paper's transform)", "",
             ("The random-weight SD v1.5 architecture (img2img, "
              f"{args.sd_steps} steps at strength {args.sd_strength}) makes noise-like images: its bytes bound "
              "a trained model's from above. The scikit-image photographs stand in for a trained model's "
              f"natural-looking images. Paper study TB: {PAPER_IMAGES / 1e6:.2f} M synthetic images "
              "(README scale table) times the bytes per image."), "",
             big.to_markdown(index=False, floatfmt=".3f")]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
