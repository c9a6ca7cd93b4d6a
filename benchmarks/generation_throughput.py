"""Generation throughput (images/s): the project's img2img path against the naive loop, same run.

Both pipelines carry the same random weights (weights do not change the speed), saved with
``save_pretrained`` and loaded back:

* project: ``cdga.ldm.load_pipeline`` (half precision on a GPU, float32 on the CPU, diffusers'
  SDPA attention) and ``cdga.generation.run_batch``, ``--batch-size`` images per pipeline call
  with per-image seeds, exactly as a generation job runs them;
* naive: ``from_pretrained`` in float32 and one image per pipeline call, the loop peers use.

``--arch demo`` is the demo LDM's architecture (config/config.yaml) at the demo's PG settings;
``--arch sd15`` is Stable Diffusion v1.5's (UNet 860 M, VAE 84 M, CLIP ViT-L/14 text encoder) at
the paper settings (512 px, 50 steps, strength 0.75, guidance 7.5). On CUDA the UNet's own rate
is also timed and set against the GPU's dense bf16 peak. ``--channels-last`` and ``--compile``
try those on top of the project path.
Usage: python generation_throughput.py [--arch demo|sd15] [--images N] [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from _env import emit, header
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    StableDiffusionImg2ImgPipeline,
    UNet2DConditionModel,
)
from PIL import Image
from transformers import CLIPTextConfig, CLIPTextModel

from cdga import demo_ldm, ldm
from cdga.device import resolve
from cdga.generation import GenerationParams, run_batch

REPO = Path(__file__).resolve().parents[1]
PROMPT = "a sketch of a {} digit"
# Dense (no sparsity) bf16 tensor-core peak, FLOP/s, by device-name fragment.
BF16_PEAK = {"H200": 989e12, "H100 PCIe": 756e12, "H100": 989e12, "A100": 312e12}


def sd15_components(tokens: int, vocab: int) -> tuple:
    """Stable Diffusion v1.5's VAE, UNet and text encoder, randomly initialised."""
    vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                        sample_size=512)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)  # the defaults are SD v1's UNet
    text = CLIPTextModel(CLIPTextConfig(vocab_size=vocab, hidden_size=768, intermediate_size=3072,
                                        num_hidden_layers=12, num_attention_heads=12,
                                        max_position_embeddings=tokens, hidden_act="quick_gelu",
                                        bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1))
    return vae, unet, text


def demo_components(opts: dict, vocab: int) -> tuple:
    """The demo LDM's VAE, UNet and text encoder (config/config.yaml), randomly initialised."""
    vae = demo_ldm.build_vae({**opts["vae"], "resolution": opts["resolution"]})
    latent = opts["resolution"] // 2 ** (len(opts["vae"]["block_out_channels"]) - 1)
    unet = demo_ldm.build_unet(opts["unet"], latent, opts["text_encoder"]["hidden_size"])
    return vae, unet, demo_ldm.build_text_encoder(opts["text_encoder"], vocab, opts["max_length"])


def save_random_pipeline(arch: str, config: dict, out: Path) -> None:
    """A randomly initialised img2img pipeline of ``arch``, written with ``save_pretrained``."""
    torch.manual_seed(0)
    tokens = 77 if arch == "sd15" else config["demo_ldm"]["max_length"]
    captions = [PROMPT.format(c) for c in ("zero", "one", "two")]
    tokenizer = demo_ldm.build_tokenizer(captions, out.parent / "tokenizer", tokens)
    build = sd15_components if arch == "sd15" else lambda t, v: demo_components(config["demo_ldm"], v)
    vae, unet, text = build(tokens, len(tokenizer))
    StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(**demo_ldm.SD_SCHEDULER), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    ).save_pretrained(out)


def source_plan(folder: Path, n: int, resolution: int) -> pd.DataFrame:
    """``n`` noise source images on disk and their plan rows (prompt, per-image seed)."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        paths.append(str(folder / f"{i}.png"))
        Image.fromarray(rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8)).save(paths[-1])
    return pd.DataFrame({"source_path": paths, "prompt": [PROMPT.format("one")] * n, "seed": range(n)})


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def project_rate(pipe, plan: pd.DataFrame, params: GenerationParams) -> float:
    """Images/s of ``run_batch`` over the plan, after one warm-up batch."""
    run_batch(pipe, plan.iloc[: params.batch_size], params)
    sync(pipe.device)
    start = time.perf_counter()
    for s in range(0, len(plan), params.batch_size):
        run_batch(pipe, plan.iloc[s : s + params.batch_size], params)
    sync(pipe.device)
    return len(plan) / (time.perf_counter() - start)


def naive_rate(pipe, plan: pd.DataFrame, params: GenerationParams) -> float:
    """Images/s of one float32 pipeline call per image, after one warm-up call."""
    def one(row) -> None:
        with Image.open(row.source_path) as im:
            pipe(prompt=row.prompt, image=im.convert("RGB"), strength=params.strength,
                 guidance_scale=params.guidance_scale, num_inference_steps=params.steps,
                 generator=torch.Generator().manual_seed(int(row.seed)))

    rows = list(plan.itertuples())
    one(rows[0])
    sync(pipe.device)
    start = time.perf_counter()
    for row in rows:
        one(row)
    sync(pipe.device)
    return len(rows) / (time.perf_counter() - start)


@torch.no_grad()
def unet_utilisation(pipe, batch: int, tokens: int, repeats: int = 10) -> tuple[float, float]:
    """(achieved TFLOP/s, fraction of bf16 peak) of the UNet alone at ``batch`` latents."""
    from torch.utils.flop_counter import FlopCounterMode

    unet, size = pipe.unet, pipe.unet.config.sample_size
    x = torch.randn(batch, 4, size, size, device=pipe.device, dtype=unet.dtype)
    context = torch.randn(batch, tokens, unet.config.cross_attention_dim, device=pipe.device, dtype=unet.dtype)
    t = torch.tensor([500] * batch, device=pipe.device)
    with FlopCounterMode(display=False) as counter:
        unet(x, t, context)
    unet(x, t, context)
    sync(pipe.device)
    start = time.perf_counter()
    for _ in range(repeats):
        unet(x, t, context)
    sync(pipe.device)
    achieved = counter.get_total_flops() * repeats / (time.perf_counter() - start)
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in BF16_PEAK.items() if k in name), float("nan"))
    return achieved / 1e12, achieved / peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", choices=("demo", "sd15"), default="demo")
    parser.add_argument("--images", type=int, default=128, help="images timed per path")
    parser.add_argument("--naive-images", type=int, help="images timed for the naive loop (default --images)")
    parser.add_argument("--batch-size", type=int, help="default: the demo's, or 16 for sd15")
    parser.add_argument("--dtype", choices=sorted(ldm.DTYPES), default="bfloat16", help="GPU only")
    parser.add_argument("--scheduler", default="ddim")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--resolution", type=int)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    gen = config["generation"]
    paper = {"steps": 50, "resolution": 512, "strength": 0.75, "guidance_scale": 7.5, "batch_size": 16}
    demo = {"steps": gen["steps"], "resolution": gen["resolution"], **gen["pg"], "batch_size": gen["batch_size"]}
    base = paper if args.arch == "sd15" else demo
    settings = {k: v if getattr(args, k, None) is None else getattr(args, k) for k, v in base.items()}
    params = GenerationParams(variant="pg", scheduler=args.scheduler, seed=0, **settings)
    device = resolve("auto")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_random_pipeline(args.arch, config, tmp / "pipeline")
        plan = source_plan(tmp, args.images, params.resolution)
        project = ldm.load_pipeline(str(tmp / "pipeline"), device, args.dtype, scheduler=args.scheduler)
        if args.channels_last:
            project.unet.to(memory_format=torch.channels_last)
            project.vae.to(memory_format=torch.channels_last)
        if args.compile:
            project.unet = torch.compile(project.unet)
        naive = StableDiffusionImg2ImgPipeline.from_pretrained(tmp / "pipeline", dtype=torch.float32).to(device)
        naive.scheduler = ldm.make_scheduler(args.scheduler, naive.scheduler.config)
        naive.set_progress_bar_config(disable=True)
        fast = project_rate(project, plan, params)
        slow = naive_rate(naive, plan.head(args.naive_images or args.images), params)
        rows = [{"path": f"project: batch {params.batch_size}, {project.unet.dtype}".replace("torch.", ""),
                 "images/s": round(fast, 3)},
                {"path": "naive: batch 1, float32", "images/s": round(slow, 3)}]
        lines = [header(f"img2img generation throughput, {args.arch} architecture",
                        {**settings, "scheduler": args.scheduler, "channels_last": args.channels_last,
                         "compile": args.compile, "threads": args.threads, "images": args.images}), "",
                 pd.DataFrame(rows).to_string(index=False), "", f"ratio project / naive: {fast / slow:.2f}x"]
        if device.type == "cuda":
            tflops, share = unet_utilisation(project, 2 * params.batch_size, project.text_encoder.config.max_position_embeddings)
            lines.append(f"UNet alone at batch {2 * params.batch_size} (guidance doubles it): "
                         f"{tflops:.0f} TFLOP/s, {share:.0%} of the bf16 dense peak")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
