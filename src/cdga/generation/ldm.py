"""Loading the latent diffusion model: one ``from_pretrained`` call for a hub id or a local dir.

The paper config names ``stable-diffusion-v1-5/stable-diffusion-v1-5`` on the Hugging Face
hub; the demo names the directory that rule ``train_demo_ldm`` writes. Both go through
``StableDiffusionImg2ImgPipeline.from_pretrained``. On a GPU the weights are cast to half
precision (``ldm.dtype``), from the checkpoint's fp16 variant where it has one; on the CPU they
stay float32. ``HF_HUB_OFFLINE=1`` means no network access at all; absent weights stop with a
message saying how to provide them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import diffusers
import torch
from diffusers import StableDiffusionImg2ImgPipeline
from huggingface_hub.utils import HFValidationError, validate_repo_id

from cdga.core.schedulers import SCHEDULERS
from cdga.generation import accel

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
FP16 = "fp16"  # the diffusers weight variant of half-precision checkpoints (SD v1.5 has one)
log = logging.getLogger(__name__)


class LDMWeightsError(RuntimeError):
    """The LDM weights could not be found; the message says how to provide them."""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def is_local(model: str) -> bool:
    """True when ``model`` names a local directory rather than a hub repository id."""
    if Path(model).exists():
        return True
    if model.startswith((".", "/", "~")):
        return True
    try:
        validate_repo_id(model)  # "org/name": at most one slash, no path-only characters
    except HFValidationError:
        return True
    return False


def _how_to_provide(model: str) -> str:
    return (
        f"Pre-download it on a machine with internet access: `hf download {model}` "
        f"(older huggingface_hub: `huggingface-cli download {model}`), with HF_HOME pointing at a "
        "cache this machine can read; or download it to a directory and set ldm.model to that "
        "directory (for the demo LDM, run rule train_demo_ldm)."
    )


def make_scheduler(name: str, pipe_config: Mapping) -> object:
    """The scheduler ``name`` built from the pipeline's own scheduler config."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; known: {sorted(SCHEDULERS)}")
    return getattr(diffusers, SCHEDULERS[name]).from_config(pipe_config)


def load_weights(model: str, torch_dtype: torch.dtype, safety_checker: bool = False) -> StableDiffusionImg2ImgPipeline:
    """``from_pretrained`` of ``model`` (hub id or local directory) in ``torch_dtype``.

    In float16 the checkpoint's ``fp16`` weight variant is read where it has one (half the
    bytes; the same numbers, as the variant is the float32 weights cast), else the float32
    files, cast. Other dtypes read the float32 files: casting fp16 weights on to bfloat16 or
    float32 would round them twice.
    """
    kwargs: dict = {"dtype": torch_dtype}
    if not safety_checker:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    if is_local(model):
        if not (Path(model) / "model_index.json").is_file():
            raise LDMWeightsError(
                f"ldm.model {model!r} is not a saved diffusers pipeline directory "
                f"({'no model_index.json in it' if Path(model).is_dir() else 'it does not exist'}). "
                + _how_to_provide("stable-diffusion-v1-5/stable-diffusion-v1-5")
            )
    else:
        kwargs["local_files_only"] = _offline()
    try:
        if torch_dtype == torch.float16:
            try:
                pipe = StableDiffusionImg2ImgPipeline.from_pretrained(model, variant=FP16, **kwargs)
                log.info("ldm.model %s: read its %s weight variant", model, FP16)
                return pipe
            except ValueError as exc:
                if f"variant={FP16}" not in str(exc):  # diffusers: no component has the variant
                    raise
                log.info("ldm.model %s has no %s weight variant: reading the float32 weights", model, FP16)
        return StableDiffusionImg2ImgPipeline.from_pretrained(model, **kwargs)
    except (OSError, ValueError) as exc:
        offline = " (HF_HUB_OFFLINE is set, so nothing is downloaded)" if _offline() else ""
        raise LDMWeightsError(
            f"could not load LDM weights for ldm.model {model!r}{offline}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. " + _how_to_provide(model)
        ) from exc


def load_pipeline(model: str, device: torch.device | str = "cpu", dtype: str = "float16",
                  safety_checker: bool = False, scheduler: str | None = None,
                  channels_last: bool = False) -> StableDiffusionImg2ImgPipeline:
    """Load the img2img pipeline ``model`` (hub id or local directory) onto ``device``
    (the config's, ``cdga.core.device.resolve``).

    ``dtype`` applies on GPUs only; the CPU always runs float32. With ``safety_checker``
    off, the pipeline is loaded without it. ``scheduler`` replaces the saved scheduler.
    ``channels_last`` stores the UNet's and VAE's convolution weights channels-last; results
    change only in the last bits of the float arithmetic. Off by default: in eager fp16 on an
    H200 it cost 10 % (``cdga.generation.accel``; a compiled job picks its format there).
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown ldm.dtype {dtype!r}; known: {sorted(DTYPES)}")
    dev = torch.device(device)
    pipe = load_weights(model, DTYPES[dtype] if dev.type == "cuda" else torch.float32, safety_checker)
    if scheduler is not None:
        pipe.scheduler = make_scheduler(scheduler, pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(dev)
    accel.set_memory_format(pipe, channels_last)
    return pipe

