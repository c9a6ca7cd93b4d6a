"""The demo dataset (``cdga.core.registry.DEMO``): scikit-learn's bundled 8x8 digits rendered in
four styles named like DomainBed's art-style domains.

A disjoint, class-stratified part of the digits is the LDM pretraining corpus (the
stand-in for Stable Diffusion's web data): it is rendered in every style with captions
and never enters the domain-generalisation dataset. The rest is dealt, per class, into
the four domains, each rendered in its own style.
"""

from __future__ import annotations

import colorsys
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from cdga.core.io import write_csv
from cdga.core.registry import DEMO, DEMO_CLASSES, domains

Array = np.ndarray
DOMAINS = domains(DEMO)


def _hsv(h: float, s: float, v: float) -> Array:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def glyph(digit: Array, res: int, rng: np.random.Generator) -> Array:
    """Upsample an 8x8 digit (0..16) to a res x res mask in [0, 1] with a random small affine jitter."""
    up = np.clip(ndimage.zoom(digit / 16.0, res / 8.0, order=3), 0, 1)
    angle = np.deg2rad(rng.uniform(-12, 12))
    scale = rng.uniform(0.85, 1.05)
    shift = rng.uniform(-res / 12, res / 12, size=2)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
    centre = np.array([res, res]) / 2 - 0.5
    offset = centre - rot @ (centre + shift)
    return np.clip(ndimage.affine_transform(up, rot, offset=offset, order=1), 0, 1)


def _blend(bg: Array, fg: Array, mask: Array) -> Array:
    return bg * (1 - mask[..., None]) + fg * mask[..., None]


def render_photo(mask: Array, rng: np.random.Generator) -> Array:
    """Muted natural colours, a lighting gradient and sensor noise."""
    res = mask.shape[0]
    c0 = _hsv(rng.uniform(), rng.uniform(0.1, 0.35), rng.uniform(0.55, 0.85))
    c1 = _hsv(rng.uniform(), rng.uniform(0.1, 0.35), rng.uniform(0.45, 0.75))
    t = np.linspace(0, 1, res)
    ramp = np.add.outer(t * rng.uniform(-1, 1), t * rng.uniform(-1, 1))
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-8)
    bg = c0 * (1 - ramp[..., None]) + c1 * ramp[..., None]
    fg = _hsv(rng.uniform(), rng.uniform(0.2, 0.5), rng.uniform(0.05, 0.3))
    img = _blend(bg, fg, ndimage.gaussian_filter(mask, 0.6))
    return img + rng.normal(0, 0.05, img.shape)


def render_art_painting(mask: Array, rng: np.random.Generator) -> Array:
    """Warm earth tones with directional brush-stroke texture over figure and ground."""
    res = mask.shape[0]

    def strokes() -> Array:
        tex = ndimage.gaussian_filter(rng.normal(size=(res, res)), sigma=(0.7, res / 8))
        tex = ndimage.rotate(tex, rng.uniform(0, 180), reshape=False, mode="reflect")
        return tex / (tex.std() + 1e-8)

    bg = _hsv(rng.uniform(0.02, 0.14), rng.uniform(0.5, 0.8), rng.uniform(0.6, 0.85))
    fg = _hsv(rng.uniform(0.55, 0.72), rng.uniform(0.5, 0.8), rng.uniform(0.2, 0.45))
    img = _blend(bg, fg, ndimage.gaussian_filter(mask, 1.0))
    img = img * (1 + 0.12 * strokes()[..., None]) + 0.05 * strokes()[..., None]
    return img


def render_cartoon(mask: Array, rng: np.random.Generator) -> Array:
    """Flat saturated colours, hard edges and a thick black outline."""
    hue = rng.uniform()
    bg = _hsv(hue, rng.uniform(0.75, 1.0), rng.uniform(0.9, 1.0))
    fg = _hsv(hue + rng.uniform(0.35, 0.65), rng.uniform(0.8, 1.0), rng.uniform(0.85, 1.0))
    inside = mask > 0.45
    width = max(1, mask.shape[0] // 16)
    outline = ndimage.binary_dilation(inside, iterations=width) & ~ndimage.binary_erosion(inside)
    img = _blend(np.broadcast_to(bg, mask.shape + (3,)), fg, inside.astype(float))
    img[outline] = 0.05
    return img


def render_sketch(mask: Array, rng: np.random.Generator) -> Array:
    """Grey pencil contours with faint hatching on off-white paper."""
    res = mask.shape[0]
    smooth = ndimage.gaussian_filter(mask, 0.7)
    edges = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))
    edges = np.clip(edges / (edges.max() + 1e-8) * 1.6, 0, 1)
    yy, xx = np.mgrid[:res, :res]
    period = max(3, res // 8)
    hatch = ((xx + yy * rng.choice([-1, 1])) % period == 0) * (smooth > 0.5) * 0.35
    ink = np.clip(edges + hatch, 0, 1) * rng.uniform(0.6, 0.85)
    paper = rng.uniform(0.92, 1.0) + rng.normal(0, 0.02, (res, res))
    grey = paper * (1 - ink)
    return np.repeat(grey[..., None], 3, axis=2) * np.array([1.0, 0.99, 0.96])


RENDERERS: Mapping[str, Callable[[Array, np.random.Generator], Array]] = {
    "photo": render_photo,
    "art_painting": render_art_painting,
    "cartoon": render_cartoon,
    "sketch": render_sketch,
}


def render(digit: Array, domain: str, res: int, rng: np.random.Generator) -> Image.Image:
    """Render one 8x8 digit in ``domain``'s style as an RGB image of res x res pixels."""
    rgb = RENDERERS[domain](glyph(digit, res, rng), rng)
    return Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8), "RGB")


def split_digits(labels: Array, pretrain_fraction: float, seed: int) -> tuple[Array, Array]:
    """Class-stratified disjoint split of digit indices into (dg_indices, pretrain_indices)."""
    dg, pre = train_test_split(
        np.arange(len(labels)), test_size=pretrain_fraction, stratify=labels, random_state=seed
    )
    return np.sort(dg), np.sort(pre)


def assign_domains(labels: Array, seed: int) -> Array:
    """Deal each class's images round-robin into the domains after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=object)
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        for k, i in enumerate(idx):
            out[i] = DOMAINS[k % len(DOMAINS)]
    return out


def _write_png(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


def build(
    out_dir: str | Path,
    pretrain_dir: str | Path,
    descriptions: Mapping[str, str],
    prompt_template: str,
    resolution: int = 32,
    pretrain_fraction: float = 0.34,
    seed: int = 0,
) -> None:
    """Write the demo dataset (DomainBed layout) and the captioned pretraining corpus.

    Both folders are built under temporary names and renamed into place at the end,
    so an interrupted build leaves nothing half-written behind.
    """
    missing = [d for d in DOMAINS if d not in descriptions]
    if missing:
        raise ValueError(f"descriptions lack {DEMO} domain(s) {missing}")
    digits = load_digits()
    dg, pre = split_digits(digits.target, pretrain_fraction, seed)
    dg_x, dg_y, pre_x, pre_y = digits.images[dg], digits.target[dg], digits.images[pre], digits.target[pre]
    rng = np.random.default_rng(seed)
    out_dir, pretrain_dir = Path(out_dir), Path(pretrain_dir)
    tmp_out = out_dir.with_name(f".{out_dir.name}.tmp")
    tmp_pre = pretrain_dir.with_name(f".{pretrain_dir.name}.tmp")
    for tmp in (tmp_out, tmp_pre):
        shutil.rmtree(tmp, ignore_errors=True)

    for i, (img, label, domain) in enumerate(zip(dg_x, dg_y, assign_domains(dg_y, seed))):
        name = DEMO_CLASSES[label]
        _write_png(render(img, domain, resolution, rng), tmp_out / domain / name / f"{i:05d}.png")

    captions = []
    for i, (img, label) in enumerate(zip(pre_x, pre_y)):
        name = DEMO_CLASSES[label]
        for domain in DOMAINS:
            rel = Path(domain) / name / f"{i:05d}.png"
            _write_png(render(img, domain, resolution, rng), tmp_pre / rel)
            caption = prompt_template.format(domain=descriptions[domain], class_name=name)
            captions.append((str(rel), domain, name, caption))
    write_csv(tmp_pre / "captions.csv",
              pd.DataFrame(captions, columns=["file", "domain", "class_name", "caption"]))

    for tmp, final in ((tmp_out, out_dir), (tmp_pre, pretrain_dir)):
        shutil.rmtree(final, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
