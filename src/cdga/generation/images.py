"""Images as every stage reads them: RGB squares at a stated size, VAE latents of a pipeline,
the pipeline's uint8 pixels as PIL (shared by cdga.generation.generate, cdga.generation.variants and the scorers,
so that no stage imports another for them)."""

from __future__ import annotations

import torch
from PIL import Image


def square(image: Image.Image, resolution: int) -> Image.Image:
    """``image`` as RGB at ``resolution`` x ``resolution`` (bicubic), the size every stage states."""
    image = image.convert("RGB")
    if image.size == (resolution, resolution):
        return image
    return image.resize((resolution, resolution), Image.BICUBIC)


def load_image(path: str, resolution: int) -> Image.Image:
    with Image.open(path) as im:
        return square(im, resolution)


@torch.no_grad()
def latents(pipe, images: list[Image.Image], resolution: int) -> torch.Tensor:
    """Posterior-mean VAE latents of ``images``, one image per call (batch-independent)."""
    x = pipe.image_processor.preprocess(images, height=resolution, width=resolution)
    x = x.to(device=pipe.device, dtype=pipe.vae.dtype)
    return torch.cat([pipe.vae.encode(x[i : i + 1]).latent_dist.mean for i in range(len(x))])


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """RGB images from uint8 (batch, height, width, 3) pixels."""
    return [Image.fromarray(a) for a in images.numpy()]
