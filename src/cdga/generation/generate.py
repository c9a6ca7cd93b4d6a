"""CDGA generation: img2img between domain pairs, one tar shard and manifest per job.

The variants (prompt-guided PG, image-guided IG, any other) are classes of ``cdga.generation.variants``:
each plans its rows' prompts and guides and prepares the pipeline's input; ``run_batch`` makes
the same img2img pipeline call for every variant.

Every synthetic image has its own seed, a SHA-256 hash of (generation seed, variant, the
source image's ``domain/class/file`` path, target domain, rep), passed to the pipeline as a
per-image ``torch.Generator``. So an image does not depend on the shard or batch it lands in.

A job's finished batches are kept in ``shard{k}.partial/`` (one small tar each, written
atomically); a rerun skips them. The shard tar and manifest are packed from them at the end.
While the pipeline runs on one batch, worker threads prepare the next and write the last.
The pipeline stops at the latents; ``decode_uint8`` decodes them to 8-bit pixels on the device
(the pipeline's own arithmetic, the same bytes). A job with a compiled UNet pads its last,
smaller batch to the full shape and drops the extra images (one graph per job).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from cdga.core.io import write_csv, write_json
from cdga.core.schedulers import SCHEDULERS
from cdga.data.shards import (
    IMAGE_FORMATS,
    LOSSLESS,
    TarShard,
    image_bytes,
    storage_settings,
    write_tar,
)
from cdga.generation import accel, variants
from cdga.generation.images import load_image, to_pil
from cdga.generation.variants import stable_seed

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = [
    "member", "shard", "dataset", "source_path", "source_domain", "target_domain", "class_index",
    "class_name", "guide_path", "lam", "prompt", "seed", "model", "variant", "rep", "strength",
    "guidance_scale", "steps", "scheduler", "resolution", "mix_space",
]
# The manifest's guide columns beside guide_path: every variant's record has them (None when it
# mixes in no guide), so a record has one shape whatever the variant.
GUIDE_OPTIONS = ("lam", "mix_space")

PLAN_COLUMNS = [c for c in MANIFEST_COLUMNS[:15] if c not in ("shard", "model")]


@dataclass(frozen=True)
class GenerationParams:
    """Every value that shapes a synthetic image (one variant's view of the config).
    ``options``: the variant's own keys of its block, as ``cdga.generation.variants`` parses them."""

    variant: str
    strength: float
    guidance_scale: float
    steps: int
    scheduler: str
    resolution: int
    seed: int
    batch_size: int
    options: Mapping[str, Any] = field(default_factory=dict)
    image_format: str = LOSSLESS  # how shard members are encoded (cdga.data.shards.IMAGE_FORMATS)
    image_quality: int | None = None  # JPEG / WebP quality; None for PNG

    def __post_init__(self) -> None:
        kind = variants.get(self.variant)
        if not 0 < self.strength <= 1:
            raise ValueError(f"generation strength {self.strength} is outside (0, 1]")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; known: {sorted(SCHEDULERS)}")
        if self.steps < 1 or self.batch_size < 1 or self.resolution < 8:
            raise ValueError(f"generation steps, batch_size and resolution must be positive: {self}")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"unknown generation.image_format {self.image_format!r}; known: {list(IMAGE_FORMATS)}")
        lossy = self.image_format != LOSSLESS
        if lossy != (self.image_quality is not None) or (lossy and not 1 <= self.image_quality <= 100):
            raise ValueError(f"generation.image_quality {self.image_quality!r} must be 1-100 for JPEG and WebP "
                             f"and None for PNG (image_format {self.image_format!r})")
        object.__setattr__(self, "options", kind.options(self.options))

    @property
    def kind(self) -> type[variants.Variant]:
        return variants.get(self.variant)

    def record(self) -> dict[str, Any]:
        """The values as one flat dict: the shared ones, the guide options, the others and the
        storage keys (none for PNG: ``cdga.data.shards.storage_settings``)."""
        shared = {k: getattr(self, k) for k in ("variant", "strength", "guidance_scale", "steps",
                                                 "scheduler", "resolution", "seed", "batch_size")}
        storage = storage_settings({"image_format": self.image_format, "image_quality": self.image_quality})
        return {**shared, **dict.fromkeys(GUIDE_OPTIONS), **self.options, **storage}

    @classmethod
    def from_config(cls, generation: Mapping, variant: str) -> GenerationParams:
        """Build from the ``generation`` config block: shared keys, the variant's block and the
        storage keys (``cdga.data.shards.storage_settings``: none for PNG)."""
        variants.get(variant)
        own = dict(generation[variant])
        img2img = {k: own.pop(k) for k in variants.IMG2IMG_SCHEMA}  # strength, guidance_scale
        shared = {k: generation[k] for k in ("steps", "scheduler", "resolution", "seed", "batch_size")}
        return cls(variant=variant, **img2img, **shared, options=own, **storage_settings(generation))


def make_prompt(settings: Mapping, variant: str, target: str, class_name: str) -> str:
    """The prompt of one synthetic image from the dataset's settings (the variant's template).

    Class folder names become words: ``Alarm_Clock`` is written ``Alarm Clock``.
    """
    return variants.get(variant).prompt(settings, target, class_name)


def relative_source(path: str) -> str:
    """``domain/class/file`` of a DomainBed-layout image: its name independent of the data root."""
    return "/".join(Path(path).parts[-3:])


def plan_shard(table: pd.DataFrame, dataset: str, settings: Mapping, params: GenerationParams,
               source: str, target: str, rep: int, shard: int, shards: int) -> pd.DataFrame:
    """The manifest rows (minus ``shard``/``model``) of one job, in generation order.

    The sources are domain ``source``'s training images sorted by path, cut into ``shards``
    contiguous parts; this job takes part ``shard``.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1}")
    train = table[table["split"] == "train"]
    for domain in (source, target):
        if not (train["domain"] == domain).any():
            raise ValueError(f"domain {domain!r} has no training images in the split table of {dataset}")
    src = train[train["domain"] == source].sort_values("path")
    src = src.iloc[np.array_split(np.arange(len(src)), shards)[shard]]
    guides = {c: sorted(g["path"]) for c, g in train[train["domain"] == target].groupby("class_index")}
    rows = []
    for row in src.itertuples(index=False):
        rel = relative_source(row.path)
        seed = stable_seed(params.seed, params.variant, rel, target, rep)
        guide, lam = params.kind.guide(params.options, params.seed, row, rel, guides, target, rep)
        rows.append({
            "member": rel.replace("/", "__"), "dataset": dataset, "source_path": row.path,
            "source_domain": source, "target_domain": target, "class_index": row.class_index,
            "class_name": row.class_name, "guide_path": guide, "lam": lam,
            "prompt": make_prompt(settings, params.variant, target, row.class_name),
            "seed": seed, "variant": params.variant, "rep": rep,
        })
    plan = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    for key in ("strength", "guidance_scale", "steps", "scheduler", "resolution"):
        plan[key] = getattr(params, key)
    plan["mix_space"] = params.options.get("mix_space") or ""
    return plan


def prepare_batch(pipe, batch: pd.DataFrame, params: GenerationParams, pad_to: int = 0) -> dict:
    """The pipeline inputs of one batch of plan rows: sources read and sized, the variant's
    pipeline input made from them, prompts and per-image generators. With ``pad_to`` a shorter
    batch repeats its last row up to that size (one shape per job for a compiled UNet); the
    caller drops the extra images."""
    if len(batch) < pad_to:
        batch = pd.concat([batch, batch.iloc[[-1] * (pad_to - len(batch))]])
    res = params.resolution
    sources = [load_image(p, res) for p in batch["source_path"]]
    image = params.kind.pipeline_image(pipe, batch, sources, params.options, res)
    generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in batch["seed"]]
    return {"prompt": list(batch["prompt"]), "image": image, "strength": params.strength,
            "guidance_scale": params.guidance_scale, "num_inference_steps": params.steps,
            "generator": generators}


@torch.no_grad()
def decode_uint8(pipe, latents: torch.Tensor) -> torch.Tensor:
    """The VAE decoding of ``latents`` as 8-bit pixels (batch, height, width, 3), made on the
    pipeline's device and then copied: a quarter of the float32 bytes cross to the host.
    The arithmetic is the pipeline's own for ``output_type="pil"`` (decode, denormalise in the
    VAE's dtype, then float32 * 255 rounded half to even), so the bytes are the same."""
    x = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
    x = (x * 0.5 + 0.5).clamp(0, 1)
    return (x.float() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu()


def run_pipeline(pipe, inputs: Mapping) -> torch.Tensor:
    """One pipeline call up to the latents, decoded by ``decode_uint8``: the images as uint8
    (batch, height, width, 3) on the CPU."""
    return decode_uint8(pipe, pipe(**inputs, output_type="latent").images)


def run_batch(pipe, batch: pd.DataFrame, params: GenerationParams) -> list[Image.Image]:
    """Generate the images of one batch of plan rows."""
    return to_pil(run_pipeline(pipe, prepare_batch(pipe, batch, params)))


def write_batch(path: Path, members: list[str], images: torch.Tensor, params: GenerationParams) -> None:
    """Encode one batch's images (the first ``len(members)``; the rest pad the batch) in the
    job's image format and write them as the batch's tar."""
    write_tar(path, [(m, image_bytes(im, params.image_format, params.image_quality))
                     for m, im in zip(members, to_pil(images[: len(members)]), strict=True)])


def _now(fn: Callable, *args: object) -> Future:
    """Call ``fn`` here and now: the serial path's stand-in for ``pool.submit``."""
    future: Future = Future()
    future.set_result(fn(*args))
    return future


def partial_batch_size(tar_path: str | Path) -> int | None:
    """The batch size of the finished batches a rerun of ``tar_path``'s job would resume from."""
    stamp = Path(tar_path).with_suffix(".partial") / "plan.json"
    return json.loads(stamp.read_text())["params"]["batch_size"] if stamp.is_file() else None


AUTO_BATCH_CAP = 64  # images per call at most: benchmarks/gpu_check.sh sweeps the batch size


def fitting_batch(free: int, peak_one: int, peak_two: int, cap: int = AUTO_BATCH_CAP) -> int:
    """The largest power of two up to ``cap`` whose pipeline call fits in ``free`` bytes, from
    the call's peak memory at 1 and at 2 images (it grows linearly with the batch)."""
    per_image = max(peak_two - peak_one, 1)
    fits = (free - (peak_one - per_image)) // per_image
    return 2 ** int(math.log2(max(1, min(fits, cap))))


@torch.no_grad()
def fitting_batch_size(pipe, params: GenerationParams, share: float = 0.9) -> int:
    """The batch size whose pipeline call fits in ``share`` of the GPU's free memory, measured
    with two one-step calls of 1 and 2 blank images at the job's resolution and guidance."""
    dev, res = pipe.device, params.resolution
    peaks = []
    for n in (1, 2):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
        start = torch.cuda.memory_allocated(dev)
        pipe(prompt=[""] * n, image=[Image.new("RGB", (res, res))] * n, strength=1.0,
             num_inference_steps=1, guidance_scale=params.guidance_scale, output_type="pt")
        peaks.append(torch.cuda.max_memory_allocated(dev) - start)
    torch.cuda.empty_cache()
    free = torch.cuda.mem_get_info(dev)[0]
    size = fitting_batch(int(share * free), *peaks)
    log.info("batch size %d: %.2f GB free, %.2f GB at 1 image, %.2f GB more per image", size,
             free / 1e9, peaks[0] / 1e9, (peaks[1] - peaks[0]) / 1e9)
    return size


def job_batch_size(pipe, params: GenerationParams, tar_path: str | Path, auto: bool) -> int:
    """Images per pipeline call: ``params.batch_size``, or with ``auto`` on a GPU the size that
    fits its memory, where a resumed job keeps its finished batches' size if that fits."""
    if not auto or pipe.device.type != "cuda":
        return params.batch_size
    fits = fitting_batch_size(pipe, params)
    done = partial_batch_size(tar_path)
    return done if done is not None and done <= fits else fits


def generate_shard(pipe, plan: pd.DataFrame, params: GenerationParams, model: str,
                   tar_path: str | Path, manifest_path: str | Path, progress: bool = True,
                   workers: int = 2, pad: bool = False, attention: str = "auto") -> None:
    """Generate the plan's images in batches, resuming from ``<shard>.partial/``; pack the shard.

    ``workers`` threads read and prepare the next batch and encode and write the last one while
    the pipeline runs on the current one (0: each step in turn, in this thread). The bytes are
    the same either way: every image's inputs and seed come from its plan row alone.
    With ``pad`` (a compiled UNet) the last, smaller batch is padded to the full batch shape,
    so the job meets one shape; ``attention``: the SDPA backend (``cdga.generation.accel.attention``).
    """
    tar_path, manifest_path = Path(tar_path), Path(manifest_path)
    partial = tar_path.with_suffix(".partial")
    fingerprint = {"params": params.record(), "model": model, "members": list(plan["member"]),
                   "seeds": [int(s) for s in plan["seed"]], "prompts": list(plan["prompt"])}
    stamp = partial / "plan.json"
    fingerprint = json.loads(json.dumps(fingerprint))  # as read back: tuples become lists
    if partial.is_dir() and (not stamp.is_file() or json.loads(stamp.read_text()) != fingerprint):
        log.info("discarding %s: it was made for another plan", partial)
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    write_json(stamp, fingerprint)
    size = params.batch_size
    batches = range(-(-len(plan) // size))
    todo = [b for b in batches if not (partial / f"batch{b:05d}.tar").is_file()]
    if len(todo) < len(batches):
        log.info("resuming %s: %d of %d batches already done", tar_path, len(batches) - len(todo), len(batches))

    def rows(b: int) -> pd.DataFrame:
        return plan.iloc[b * size : (b + 1) * size]

    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="generate") as pool:
        submit = pool.submit if workers else _now
        pad_to = min(size, len(plan)) if pad else 0  # the one shape the job meets
        ahead = submit(prepare_batch, pipe, rows(todo[0]), params, pad_to) if todo else None
        writing: list[Future] = []
        for i, b in enumerate(tqdm(todo, desc=str(tar_path), disable=not progress)):
            inputs = ahead.result()
            if i + 1 < len(todo):
                ahead = submit(prepare_batch, pipe, rows(todo[i + 1]), params, pad_to)
            with accel.attention(attention):
                images = run_pipeline(pipe, inputs)
            writing.append(submit(write_batch, partial / f"batch{b:05d}.tar", list(rows(b)["member"]), images,
                                  params))
            while len(writing) > workers:  # at most `workers` batches wait to be written
                writing.pop(0).result()
        for done in writing:
            done.result()
    parts = (TarShard(partial / f"batch{b:05d}.tar") for b in batches)
    write_tar(tar_path, ((name, part.read(name)) for part in parts for name in part.names()))
    manifest = plan.assign(shard=str(tar_path), model=model)[MANIFEST_COLUMNS]
    write_csv(manifest_path, manifest)
    shutil.rmtree(partial)
