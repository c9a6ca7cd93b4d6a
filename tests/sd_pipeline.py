"""A tiny random Stable-Diffusion-architecture img2img pipeline, saved as a pretrained one, for
generation tests that need no training (its prompts are those of toy_dataset's Tiny dataset)."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import DDIMScheduler, StableDiffusionImg2ImgPipeline
from toy_dataset import TINY_CLASSES

from cdga.generation.demo_ldm import (
    SD_SCHEDULER,
    build_text_encoder,
    build_tokenizer,
    build_unet,
    build_vae,
)

SETTINGS = {
    "descriptions": {"photo": "a photo", "sketch": "a pencil sketch"},
    "prompt_template": "{domain} of the digit {class_name}",
    "class_prompt_template": "the digit {class_name}",
}


def save_tiny_pipeline(out_dir: Path, resolution: int = 16, captions: list[str] | None = None,
                       max_length: int = 12) -> Path:
    """Build a randomly initialised SD-architecture pipeline and save_pretrained it to ``out_dir``.

    ``captions`` are the texts its tokenizer must spell (default: this module's prompts);
    ``max_length`` is its prompt length in tokens.
    """
    torch.manual_seed(0)
    captions = captions or [SETTINGS["prompt_template"].format(domain=d, class_name=c)
                            for d in SETTINGS["descriptions"].values() for c in TINY_CLASSES]
    tokenizer = build_tokenizer(captions, out_dir.parent / f"{out_dir.name}_tokenizer", max_length=max_length)
    vae = build_vae({"block_out_channels": [8, 16], "resolution": resolution})
    text_encoder = build_text_encoder({"hidden_size": 16, "layers": 1, "heads": 2}, len(tokenizer), max_length)
    unet = build_unet({"block_out_channels": [16, 16], "cross_attention": [False, True],
                       "layers_per_block": 1, "attention_head_dim": 8}, resolution // 2, 16)
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(**SD_SCHEDULER), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out_dir)
    return out_dir
