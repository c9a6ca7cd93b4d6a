"""Training throughput (images/s): end to end from files and shards against compute alone, same run.

The paper config's training step: the backbone (ResNet-50, random weights) at its resolution,
``batch_size`` images per training domain (3 domains), half real and half synthetic
(``synthetic_ratio``), DomainBed's augmentation, Adam; AMP and channels_last on CUDA.

* end to end: the project's input pipeline as ``cdga.training.train`` builds it (``ImageRows`` over real
  JPEG files and synthetic PNG members of tar shards read in place, ``StepSampler``,
  ``DataLoader`` with ``--workers`` processes) feeding the step;
* loader only: the same DataLoader drawn without a step (can it feed the step?);
* compute only: the same step on one minibatch already on the device.

The loader's execution settings are the config's (``--prefetch-factor`` overrides): pinned
memory on CUDA, persistent workers, the prefetch depth (``cdga.training.loader.loader_options``),
and where JPEGs are decoded (``--decode`` overrides; ``both`` measures the end to end and loader
rows once per place: workers with Pillow, then decode_jpeg on the device,
``cdga.training.decoding``). The synthetic members are PNG, the paper config's format: the
workers decode them in either place.

Images are random noise at the sizes the study meets (real 256 px JPEG, synthetic 512 px PNG
from Stable Diffusion); decoding cost does not depend on content much.
Usage: python training_throughput.py [--workers 15] [--steps 50] [--decode both] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from _env import emit, header
from PIL import Image
from torch.utils.data import DataLoader

from cdga.core.device import resolve
from cdga.data.shards import png_bytes, write_tar
from cdga.training import algorithms, decoding, train
from cdga.training import loader as data
from cdga.training.networks import Classifier

REPO = Path(__file__).resolve().parents[1]
DOMAINS = ("art_painting", "cartoon", "photo")
CLASSES = 7
END_TO_END = "end to end, decode {} (files + shards)"


def make_rows(root: Path, per_domain: int, real_px: int, synthetic_px: int) -> pd.DataFrame:
    """Real JPEG files and one synthetic tar shard per domain, as assembled manifest rows."""
    rng = np.random.default_rng(0)
    rows = []
    for domain in DOMAINS:
        members = []
        for i in range(per_domain):
            label = i % CLASSES
            path = root / domain / str(label) / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (real_px, real_px, 3), dtype=np.uint8)).save(path, quality=90)
            rows.append({"path": str(path), "shard": "", "class_index": label, "domain": domain, "origin": "real"})
            name = f"{domain}__{i}.png"
            members.append((name, png_bytes(Image.fromarray(
                rng.integers(0, 256, (synthetic_px, synthetic_px, 3), dtype=np.uint8)))))
            rows.append({"path": name, "shard": str(root / f"{domain}.tar"), "class_index": label,
                         "domain": domain, "origin": "synthetic"})
        write_tar(root / f"{domain}.tar", members)
    return pd.DataFrame(rows)


def build_step(cfg: dict, device: torch.device):
    """(algorithm, step function taking the batch tensors) for the paper's training step."""
    torch.manual_seed(0)
    algorithm = algorithms.ALGORITHMS["ERM"](Classifier(cfg["backbone"], CLASSES, weights=None), cfg).to(device)
    cuda = device.type == "cuda"
    if cuda:
        algorithm.to(memory_format=torch.channels_last)
    scaler = torch.amp.GradScaler("cuda") if cuda else None
    rng = np.random.default_rng(0)

    def step(x: torch.Tensor, y: torch.Tensor, per_domain: int) -> None:
        x, y = train.to_device(x, y, device)
        algorithm.update(train.per_domain_batches(x, y, per_domain), rng, scaler,
                         train.autocast_for(device) if cuda else None)

    return algorithm, step


def timed(fn, steps: int, device: torch.device) -> float:
    """Seconds for ``steps`` calls of ``fn(i)``, after two warm-up calls."""
    for i in range(2):
        fn(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(2, steps + 2):
        fn(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "paper.yaml")
    parser.add_argument("--workers", type=int, default=max((os.cpu_count() or 2) - 1, 1))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--images-per-domain", type=int, default=512)
    parser.add_argument("--backbone", help="override the config's backbone")
    parser.add_argument("--resolution", type=int, help="override the config's resolution")
    parser.add_argument("--prefetch-factor", type=int, help="override the config's prefetch_factor")
    parser.add_argument("--decode", choices=[*decoding.DECODE, "both"],
                        help="override the config's decode; both: cpu, then device")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cfg = yaml.safe_load(args.config.read_text())["training"]
    cfg |= {k: v for k, v in (("backbone", args.backbone), ("resolution", args.resolution)) if v}
    device = resolve("auto")
    real, synthetic = data.split_counts(cfg["batch_size"], cfg["synthetic_ratio"], True)
    per_domain = real + synthetic
    batch = per_domain * len(DOMAINS)
    with tempfile.TemporaryDirectory() as tmp:
        rows = make_rows(Path(tmp), args.images_per_domain, 256, 512)
        streams = [data.Stream(np.flatnonzero(((rows["domain"] == d) & (rows["origin"] == o)).to_numpy()), n)
                   for d in DOMAINS for o, n in (("real", real), ("synthetic", synthetic))]
        prefetch = args.prefetch_factor or cfg["prefetch_factor"]
        options = data.loader_options(args.workers, device, prefetch, cfg["persistent_workers"])

        def loader(seed: int, decode: str) -> Iterable:
            on_device = decoding.on_device(decode)
            images = decoding.rows_dataset(
                rows, data.train_transform(cfg["resolution"], cfg["augment"], on_device), on_device)
            return decoding.batches(images, device, batch_sampler=data.StepSampler(
                streams, seed=seed, steps=args.steps + 2), **options)

        decodes = ("cpu", "device") if args.decode == "both" else (args.decode or cfg["decode"],)
        _, step = build_step(cfg, device)
        rates = {}
        for decode in decodes:
            batches = iter(loader(0, decode))
            end_to_end = timed(lambda i, batches=batches: step(*next(batches), per_domain), args.steps, device)
            drawn = iter(loader(2, decode))
            next(drawn)  # the workers started, as the step's loader was
            start = time.perf_counter()
            for _ in range(args.steps):
                next(drawn)[0].to(device, non_blocking=True)
            if device.type == "cuda":
                torch.cuda.synchronize()
            loading = time.perf_counter() - start
            rates[END_TO_END.format(decode)] = batch * args.steps / end_to_end
            rates[f"loader only, decode {decode} (to the device)"] = batch * args.steps / loading
        x, y = next(iter(DataLoader(data.ImageRows(rows, data.train_transform(cfg["resolution"], cfg["augment"])),
                                    batch_sampler=data.StepSampler(streams, seed=1, steps=1))))
        x, y = x.to(device), y.to(device)
        compute = timed(lambda i: step(x, y, per_domain), args.steps, device)
    rates["compute only (batch on the device)"] = compute_rate = batch * args.steps / compute
    table = pd.DataFrame({"path": list(rates), "images/s": [round(v, 1) for v in rates.values()]})
    lines = [header("training throughput, one training step of the paper config",
                    {"backbone": cfg["backbone"], "resolution": cfg["resolution"],
                     "batch": f"{len(DOMAINS)} domains x ({real} real + {synthetic} synthetic)",
                     "workers": args.workers, "steps": args.steps, "amp": device.type == "cuda",
                     "images_per_domain": args.images_per_domain, **{k: v for k, v in options.items() if k != "num_workers"}}),
             "", table.to_string(index=False), "",
             *(f"end to end / compute only, decode {d}: {rates[END_TO_END.format(d)] / compute_rate:.0%} "
               "(goal on a 16-core GPU node: >= 95%)" for d in decodes)]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
