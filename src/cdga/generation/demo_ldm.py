"""The demo LDM: a tiny Stable-Diffusion-architecture img2img pipeline trained from scratch.

It is the stand-in for Stable Diffusion in the demo study: the same component classes
(``AutoencoderKL``, ``UNet2DConditionModel``, ``CLIPTextModel``, ``CLIPTokenizer``, a
diffusers scheduler) saved with ``save_pretrained``, so generation loads it through exactly
the same ``StableDiffusionImg2ImgPipeline.from_pretrained`` call as the real model.

Training has two phases on the captioned pretraining corpus: the VAE (reconstruction plus a
small KL term), then the UNet and text encoder jointly (epsilon prediction, captions dropped
at random for classifier-free guidance, cosine learning rate, EMA weights). Both phases
checkpoint every ``checkpoint_every`` steps. Every step draws its batch and noise from a
generator seeded by (seed, phase, step), so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    StableDiffusionImg2ImgPipeline,
    UNet2DConditionModel,
)
from diffusers.training_utils import EMAModel
from PIL import Image
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from cdga.core.io import save_torch, write_json, write_text

log = logging.getLogger(__name__)

# Stable Diffusion v1's noise schedule, so the demo and the paper model share a scheduler config.
SD_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}
SPECIAL = ("<|startoftext|>", "<|endoftext|>")


# ---------------------------------------------------------------- tokenizer
def build_tokenizer(captions: Sequence[str], out_dir: str | Path, max_length: int) -> CLIPTokenizer:
    """Write a CLIP BPE vocabulary covering every caption word to ``out_dir``; load it.

    Each word is spelt by left-to-right merges of its characters, so every intermediate
    piece is in the vocabulary and every caption word becomes exactly one token.
    """
    out_dir = Path(out_dir)
    words = sorted({w for c in captions for w in c.lower().split()})
    vocab: dict[str, int] = {}
    merges: list[str] = []

    def add(token: str) -> None:
        vocab.setdefault(token, len(vocab))

    for ch in sorted({ch for w in words for ch in w}):
        add(ch)
        add(ch + "</w>")
    for word in words:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merge = f"{pieces[0]} {pieces[1]}"
            if merge not in merges:
                merges.append(merge)
            pieces = [pieces[0] + pieces[1], *pieces[2:]]
            add(pieces[0])
    for token in SPECIAL:
        add(token)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "vocab.json", vocab)
    write_text(out_dir / "merges.txt", "#version: 0.2\n" + "\n".join(merges) + "\n")
    tok = CLIPTokenizer(str(out_dir / "vocab.json"), str(out_dir / "merges.txt"),
                        model_max_length=max_length, pad_token="<|endoftext|>")
    for word in words:
        if len(tok(word, add_special_tokens=False).input_ids) != 1:
            raise RuntimeError(f"demo tokenizer splits caption word {word!r}")
    return tok


# ---------------------------------------------------------------- components
def build_vae(opts: Mapping) -> AutoencoderKL:
    chans = tuple(opts["block_out_channels"])
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * len(chans),
        up_block_types=("UpDecoderBlock2D",) * len(chans),
        block_out_channels=chans, layers_per_block=1, norm_num_groups=min(8, chans[0]),
        sample_size=opts["resolution"],
    )


def build_unet(opts: Mapping, latent_size: int, context_dim: int) -> UNet2DConditionModel:
    chans = tuple(opts["block_out_channels"])
    attn = list(opts["cross_attention"])
    if len(attn) != len(chans):
        raise ValueError(f"demo_ldm.unet.cross_attention {attn} needs one flag per level {list(chans)}")
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn))
    return UNet2DConditionModel(
        sample_size=latent_size, in_channels=4, out_channels=4,
        down_block_types=down, up_block_types=up, block_out_channels=chans,
        layers_per_block=opts["layers_per_block"], cross_attention_dim=context_dim,
        attention_head_dim=opts["attention_head_dim"], norm_num_groups=min(8, chans[0]),
    )


def build_text_encoder(opts: Mapping, vocab_size: int, max_length: int) -> CLIPTextModel:
    cfg = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=opts["hidden_size"], intermediate_size=2 * opts["hidden_size"],
        num_hidden_layers=opts["layers"], num_attention_heads=opts["heads"],
        max_position_embeddings=max_length, bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )
    return CLIPTextModel(cfg)


# ---------------------------------------------------------------- data
def load_corpus(pretrain_dir: str | Path, resolution: int) -> tuple[torch.Tensor, list[str]]:
    """All pretraining images as a [-1, 1] tensor (N, 3, res, res) and their captions."""
    pretrain_dir = Path(pretrain_dir)
    table_path = pretrain_dir / "captions.csv"
    if not table_path.is_file():
        raise FileNotFoundError(f"LDM pretraining captions {str(table_path)!r} do not exist")
    table = pd.read_csv(table_path)
    missing = {"file", "caption"} - set(table.columns)
    if missing:
        raise ValueError(f"{str(table_path)!r} lacks column(s) {sorted(missing)}")
    arrays = []
    for rel in table["file"]:
        with Image.open(pretrain_dir / rel) as im:
            im = im.convert("RGB")
            if im.size != (resolution, resolution):
                im = im.resize((resolution, resolution), Image.BICUBIC)
            arrays.append(np.asarray(im))
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x, [c.lower() for c in table["caption"]]


def step_generator(seed: int, phase: str, step: int) -> torch.Generator:
    """The generator of one training step: a pure function of (seed, phase, step)."""
    offset = {"vae": 1, "unet": 2}[phase]
    return torch.Generator().manual_seed(seed * 1_000_003 + offset * 100_000_007 + step)


def cosine_lr(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to zero, as a multiplier of the peak rate."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def set_lr(opt: torch.optim.Optimizer, opts: Mapping, step: int, total: int) -> None:
    """Set every parameter group to the scheduled rate of ``step`` (peak ``opts['lr']``)."""
    for group in opt.param_groups:
        group["lr"] = opts["lr"] * cosine_lr(step, total, opts["warmup_steps"])


# ---------------------------------------------------------------- checkpoints
def _load_ckpt(path: Path, fingerprint: str) -> dict | None:
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        log.info("ignoring checkpoint %s: it was made with other options", path)
        return None
    return state


# ---------------------------------------------------------------- training
def train_vae(vae: AutoencoderKL, images: torch.Tensor, opts: Mapping, seed: int,
              ckpt: Path, fingerprint: str, every: int, device: torch.device | str = "cpu") -> None:
    """Train the autoencoder on ``device`` on images, resuming from ``ckpt`` when it matches.

    Batches and noise are drawn on the CPU and then moved, so every device draws the same ones.
    """
    steps, bs = opts["steps"], opts["batch_size"]
    vae.to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=opts["lr"], weight_decay=0.0)
    start = 0
    if (state := _load_ckpt(ckpt, fingerprint)) is not None:
        vae.load_state_dict(state["vae"])
        opt.load_state_dict(state["opt"])
        start = state["step"]
        log.info("VAE: resuming at step %d", start)
    vae.train()
    t0 = time.time()
    for step in range(start, steps):
        set_lr(opt, opts, step, steps)
        gen = step_generator(seed, "vae", step)
        x = images[torch.randint(len(images), (bs,), generator=gen)].to(device)
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen).to(device)
        rec = vae.decode(z).sample
        kl = post.kl().mean() / x[0].numel()
        loss = F.mse_loss(rec, x) + F.l1_loss(rec, x) + opts["kl_weight"] * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % every == 0 or step + 1 == steps:
            save_torch(ckpt, {"fingerprint": fingerprint, "step": step + 1,
                              "vae": vae.state_dict(), "opt": opt.state_dict()})
            log.info("VAE step %d/%d loss %.4f (%.0f s)", step + 1, steps, loss.item(), time.time() - t0)
    vae.eval()


@torch.no_grad()
def encode_corpus(vae: AutoencoderKL, images: torch.Tensor,
                  device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of every image's latent, on ``device`` (the VAE's)."""
    means, stds = [], []
    for chunk in images.split(256):
        post = vae.encode(chunk.to(device)).latent_dist
        means.append(post.mean)
        stds.append(post.std)
    return torch.cat(means), torch.cat(stds)


def min_snr_weight(alphas: torch.Tensor, gamma: float | None) -> torch.Tensor:
    """Per-sample loss weight min(SNR, gamma) / SNR of epsilon prediction (Hang et al. 2023),
    SNR = alpha_bar / (1 - alpha_bar); all ones when ``gamma`` is None. It stops the many
    nearly noise-free timesteps from dominating training."""
    if gamma is None:
        return torch.ones_like(alphas)
    snr = alphas / (1 - alphas)
    return snr.clamp(max=gamma) / snr


def train_unet(unet: UNet2DConditionModel, text_encoder: CLIPTextModel, latents: tuple[torch.Tensor, torch.Tensor],
               scaling: float, ids: torch.Tensor, empty_ids: torch.Tensor, opts: Mapping, seed: int,
               ckpt: Path, fingerprint: str, every: int, device: torch.device | str = "cpu") -> None:
    """Train UNet and text encoder jointly on ``device`` on (Min-SNR weighted) epsilon
    prediction; leave EMA weights in them. ``latents`` are on ``device``; token ids, noise and
    timesteps are drawn on the CPU and then moved, as in ``train_vae``."""
    steps, bs = opts["steps"], opts["batch_size"]
    scheduler = DDIMScheduler(**SD_SCHEDULER)
    alphas = scheduler.alphas_cumprod
    unet.to(device)
    text_encoder.to(device)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=opts["lr"], weight_decay=0.0)
    ema = EMAModel(params, decay=opts["ema_decay"], use_ema_warmup=True, power=3 / 4)
    start = 0
    if (state := _load_ckpt(ckpt, fingerprint)) is not None and state.get("phase") == "unet":
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text_encoder"])
        opt.load_state_dict(state["opt"])
        ema.load_state_dict(state["ema"])
        ema.to(device)  # the loaded EMA weights are on the CPU
        start = state["step"]
        log.info("UNet: resuming at step %d", start)
    mean, std = latents
    unet.train()
    text_encoder.train()
    t0 = time.time()
    for step in range(start, steps):
        set_lr(opt, opts, step, steps)
        gen = step_generator(seed, "unet", step)
        idx = torch.randint(len(mean), (bs,), generator=gen)
        z0 = (mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=gen).to(device)) * scaling
        noise = torch.randn(z0.shape, generator=gen).to(device)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (bs,), generator=gen)
        drop = torch.rand(bs, generator=gen) < opts["caption_dropout"]
        tokens = torch.where(drop[:, None], empty_ids[None], ids[idx]).to(device)
        alpha_t = alphas[t].to(device)
        a = alpha_t.view(-1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        context = text_encoder(tokens)[0]
        per_sample = F.mse_loss(unet(zt, t.to(device), context).sample, noise,
                                reduction="none").mean(dim=(1, 2, 3))
        loss = (min_snr_weight(alpha_t, opts["snr_gamma"]) * per_sample).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.step(params)
        if (step + 1) % every == 0 or step + 1 == steps:
            save_torch(ckpt, {"fingerprint": fingerprint, "phase": "unet", "step": step + 1,
                              "unet": unet.state_dict(), "text_encoder": text_encoder.state_dict(),
                              "opt": opt.state_dict(), "ema": ema.state_dict()})
            log.info("UNet step %d/%d loss %.4f (%.0f s)", step + 1, steps, loss.item(), time.time() - t0)
    ema.copy_to(params)
    unet.eval()
    text_encoder.eval()


def train(pretrain_dir: str | Path, out_dir: str | Path, options: Mapping, work_dir: str | Path,
          device: torch.device | str = "cpu") -> None:
    """Train the demo LDM on ``device`` on ``pretrain_dir`` and ``save_pretrained`` it to ``out_dir``.

    ``work_dir`` keeps the tokenizer files and checkpoints; a rerun with the same options
    resumes from them (on any device). ``out_dir`` appears only when the pipeline is complete.
    """
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    # The VAE checkpoint depends on the VAE options only, so a UNet-only change reuses it.
    vae_fingerprint = json.dumps([options["seed"], options["resolution"], options["vae"]], sort_keys=True)
    fingerprint = json.dumps(options, sort_keys=True)
    seed, res, max_len = options["seed"], options["resolution"], options["max_length"]
    torch.manual_seed(seed)
    images, captions = load_corpus(pretrain_dir, res)
    log.info("corpus: %d images of %d px from %s", len(images), res, pretrain_dir)
    tokenizer = build_tokenizer(captions, work_dir / "tokenizer", max_len)
    vae = build_vae({**options["vae"], "resolution": res})
    vae_ckpt = work_dir / "vae.pt"
    train_vae(vae, images, options["vae"], seed, vae_ckpt, vae_fingerprint, options["checkpoint_every"],
              device)
    mean, std = encode_corpus(vae, images, device)
    scaling = float(1 / mean.std())  # latents of unit variance, as SD's 0.18215 does for its VAE
    vae.register_to_config(scaling_factor=scaling)

    def tokens(texts: list[str]) -> torch.Tensor:
        return tokenizer(texts, padding="max_length", max_length=max_len, truncation=True,
                         return_tensors="pt").input_ids

    text_encoder = build_text_encoder(options["text_encoder"], len(tokenizer), max_len)
    unet = build_unet(options["unet"], latent_size=mean.shape[-1],
                      context_dim=options["text_encoder"]["hidden_size"])
    log.info("UNet %.2f M parameters, text encoder %.2f M, VAE %.2f M, scaling factor %.3f",
             sum(p.numel() for p in unet.parameters()) / 1e6,
             sum(p.numel() for p in text_encoder.parameters()) / 1e6,
             sum(p.numel() for p in vae.parameters()) / 1e6, scaling)
    train_unet(unet, text_encoder, (mean, std), scaling, tokens(captions), tokens([""])[0],
               options["unet"], seed, work_dir / "unet.pt", fingerprint, options["checkpoint_every"],
               device)
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(**SD_SCHEDULER), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    ).to("cpu")
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    log.info("saved the demo LDM to %s", out_dir)
