"""Generation throughput (images/s): the project's img2img path against the naive loop, same run.

Both pipelines carry the same random weights (weights do not change the speed), saved with
``save_pretrained`` and loaded back:

* pipeline only: ``cdga.ldm.load_pipeline`` (half precision and channels-last on a GPU,
  float32 on the CPU, diffusers' SDPA attention), ``--batch-size`` images per call with
  per-image seeds, inputs prepared beforehand (``cdga.generation.run_pipeline``);
* end to end: ``cdga.generation.generate_shard`` over a plan of source images on disk, as a
  generation job runs it: reading and preparing the sources, the pipeline, PNG encoding, batch
  tars, the shard and its manifest; overlapped (``--workers`` threads) and serial (0);
* naive: ``from_pretrained`` in float32 and one image per pipeline call, the loop peers use.

``--arch demo`` is the demo LDM's architecture (config/config.yaml) at the demo's PG settings;
``--arch sd15`` is Stable Diffusion v1.5's (UNet 860 M, VAE 84 M, CLIP ViT-L/14 text encoder) at
the paper settings (512 px, 50 steps, strength 0.6, guidance 7.5). On CUDA the UNet's own rate
is also timed and set against the GPU's dense bf16 peak. ``--levers`` measures instead the effect of each
GPU lever of the production path: the fp16 weight variant (bytes and seconds to load),
channels-last off against on, ``torch.compile`` of the UNet (``--no-compile`` skips it) and the
batch size (the one that fits the GPU's memory, and a sweep).
Usage: python generation_throughput.py [--arch demo|sd15] [--images N] [--repeats R] [--levers] [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
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
from cdga.generation import (
    GenerationParams,
    fitting_batch_size,
    generate_shard,
    plan_shard,
    prepare_batch,
    run_batch,
    run_pipeline,
)

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


def save_random_pipeline(arch: str, config: dict, out: Path, variant: bool = False) -> None:
    """A randomly initialised img2img pipeline of ``arch``, written with ``save_pretrained``
    (``variant``: its fp16 weight variant beside the float32 files, as SD v1.5 has one)."""
    torch.manual_seed(0)
    tokens = 77 if arch == "sd15" else config["demo_ldm"]["max_length"]
    captions = [PROMPT.format(c) for c in ("zero", "one", "two")]
    tokenizer = demo_ldm.build_tokenizer(captions, out.parent / "tokenizer", tokens)
    build = sd15_components if arch == "sd15" else lambda t, v: demo_components(config["demo_ldm"], v)
    vae, unet, text = build(tokens, len(tokenizer))
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(**demo_ldm.SD_SCHEDULER), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(out)
    if variant:
        pipe.to(torch.float16).save_pretrained(out, variant=ldm.FP16)


SETTINGS = {"descriptions": {"sketch": "a sketch"}, "prompt_template": "{domain} of a {class_name} digit"}


def source_plan(folder: Path, n: int, params: GenerationParams) -> pd.DataFrame:
    """A generation job's plan (``plan_shard``) over ``n`` noise source images on disk, PG from
    domain photo to sketch, prompt ``PROMPT``."""
    rng = np.random.default_rng(0)
    rows = []
    for domain, count in (("photo", n), ("sketch", 1)):
        (folder / "Bench" / domain / "one").mkdir(parents=True)
        for i in range(count):
            path = folder / "Bench" / domain / "one" / f"{i:05d}.png"
            size = (params.resolution, params.resolution, 3)
            Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(path)
            rows.append((str(path), domain, 1, "one", "train"))
    table = pd.DataFrame(rows, columns=["path", "domain", "class_index", "class_name", "split"])
    return plan_shard(table, "Bench", SETTINGS, params, "photo", "sketch", 0, 0, 1)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def warm_up(pipe, params: GenerationParams, n: int) -> None:
    """One one-step pipeline call of ``n`` images (CUDA context, kernels, allocator, compiling)."""
    size = params.resolution
    pipe(prompt=[PROMPT.format("one")] * n, image=[Image.new("RGB", (size, size))] * n, strength=1.0,
         guidance_scale=params.guidance_scale, num_inference_steps=1, output_type="pt")
    sync(pipe.device)


def pipeline_rate(pipe, plan: pd.DataFrame, params: GenerationParams) -> float:
    """Images/s of the pipeline calls alone, their inputs prepared beforehand, after a warm-up batch."""
    inputs = [prepare_batch(pipe, plan.iloc[s : s + params.batch_size], params)
              for s in range(0, len(plan), params.batch_size)]
    run_pipeline(pipe, inputs[0])  # warm-up: the first batch as it will be timed
    sync(pipe.device)
    start = time.perf_counter()
    for batch in inputs:
        run_pipeline(pipe, batch)
    sync(pipe.device)
    return len(plan) / (time.perf_counter() - start)


def end_to_end_rate(pipe, plan: pd.DataFrame, params: GenerationParams, out: Path, workers: int) -> float:
    """Images/s of ``generate_shard`` (sources on disk to shard and manifest), after a warm-up."""
    run_pipeline(pipe, prepare_batch(pipe, plan.iloc[: params.batch_size], params))  # warm-up
    sync(pipe.device)
    start = time.perf_counter()
    generate_shard(pipe, plan, params, "bench", out / "shard0.tar", out / "shard0.csv", progress=False,
                   workers=workers)
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


def weight_bytes(folder: Path, variant: bool) -> int:
    """Bytes of the pipeline's weight files: the fp16 variant's or the float32 ones."""
    files = [f for f in folder.rglob("*.safetensors") if (".fp16." in f.name) == variant]
    return sum(f.stat().st_size for f in files)


def without_variant(folder: Path, out: Path) -> Path:
    """``folder`` without its fp16 variant files (links to the rest): a float32-only checkpoint."""
    for f in folder.rglob("*"):
        if f.is_file() and ".fp16." not in f.name:
            (out / f.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            (out / f.relative_to(folder)).symlink_to(f)
    return out


def lever_rows(model: Path, pipe, plan: pd.DataFrame, params: GenerationParams, args) -> list[dict]:
    """The effect of each GPU lever: the fp16 variant, channels-last, torch.compile, batch size."""
    device, rows = pipe.device, []
    plain = without_variant(model, model.parent / "float32_only")
    for name, folder, variant in (("fp16 variant", model, True), ("float32 files, cast", plain, False)):
        start = time.perf_counter()
        ldm.load_weights(str(folder), torch.float16)
        rows.append({"lever": "weights read in float16", "setting": name,
                     "value": f"{weight_bytes(model, variant) / 1e6:.0f} MB, {time.perf_counter() - start:.1f} s"})
    base = pipeline_rate(pipe, plan, params)
    layout = "channels-last" if pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last) else "contiguous"
    rows.append({"lever": "memory format", "setting": f"{layout} (the default here)", "value": f"{base:.3f} images/s"})
    other = ldm.load_pipeline(str(model), device, args.dtype, scheduler=args.scheduler,
                              channels_last=layout == "contiguous")
    rows.append({"lever": "memory format", "setting": "contiguous" if layout != "contiguous" else "channels-last",
                 "value": f"{pipeline_rate(other, plan, params):.3f} images/s"})
    del other
    if device.type == "cuda":
        fits = fitting_batch_size(pipe, params)
        rows.append({"lever": "batch size", "setting": "auto_batch_size picks", "value": str(fits)})
        for size in sorted({2 * params.batch_size, fits} - {params.batch_size}):
            if size <= fits:
                sized = replace(params, batch_size=size)
                rate = pipeline_rate(pipe, source_rows(plan, max(size, len(plan))), sized)
                rows.append({"lever": "batch size", "setting": str(size), "value": f"{rate:.3f} images/s"})
    if not args.no_compile:  # last: the memory probe above would compile its own shapes
        reference = run_batch(pipe, plan.iloc[: params.batch_size], params)
        ldm.compile_unet(pipe)
        start = time.perf_counter()
        warm_up(pipe, params, min(params.batch_size, len(plan)))
        compiling = time.perf_counter() - start
        rate = pipeline_rate(pipe, plan, params)
        compiled = run_batch(pipe, plan.iloc[: params.batch_size], params)
        diff = max(int(np.abs(np.asarray(a, int) - np.asarray(b, int)).max()) for a, b in zip(reference, compiled))
        rows.append({"lever": "torch.compile (UNet)", "setting": f"first call {compiling:.0f} s",
                     "value": f"{rate:.3f} images/s, images within {diff} grey levels of eager"})
    return rows


def source_rows(plan: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` plan rows: the plan's, repeated as needed (the rate does not depend on which)."""
    return plan.iloc[np.arange(n) % len(plan)]


def throughput_lines(tmp: Path, project, plan: pd.DataFrame, params: GenerationParams, args) -> list[str]:
    """The table of pipeline-only, end-to-end and naive images/s, and their ratios."""
    device = project.device
    # Rounds interleave the three paths, each round into new shards (a finished shard resumes):
    # the medians are compared, so one slow stretch of the machine does not decide a ratio.
    rounds = [(pipeline_rate(project, plan, params),
               end_to_end_rate(project, plan, params, tmp / f"overlapped{r}", args.workers),
               end_to_end_rate(project, plan, params, tmp / f"serial{r}", 0))
              for r in range(args.repeats)]
    only, overlapped, serial = (float(np.median(path)) for path in zip(*rounds, strict=True))
    naive = StableDiffusionImg2ImgPipeline.from_pretrained(tmp / "pipeline", dtype=torch.float32).to(device)
    naive.scheduler = ldm.make_scheduler(args.scheduler, naive.scheduler.config)
    naive.set_progress_bar_config(disable=True)
    slow = naive_rate(naive, plan.head(args.naive_images or args.images), params)
    del naive
    precision = str(project.unet.dtype).replace("torch.", "")
    rows = [{"path": f"pipeline only: batch {params.batch_size}, {precision}", "images/s": round(only, 3)},
            {"path": f"end to end (generate_shard, {args.workers} workers)", "images/s": round(overlapped, 3)},
            {"path": "end to end, serial (0 workers)", "images/s": round(serial, 3)},
            {"path": "naive: batch 1, float32", "images/s": round(slow, 3)}]
    lines = [pd.DataFrame(rows).to_string(index=False), "",
             (f"end to end / pipeline only: {overlapped / only:.1%} overlapped, {serial / only:.1%} serial "
              f"(goal >= 95 %; medians of {args.repeats} interleaved rounds)"),
             "per round (pipeline only, overlapped, serial): "
             + "; ".join(", ".join(f"{v:.2f}" for v in r) for r in rounds),
             f"ratio project / naive: {overlapped / slow:.2f}x (end to end against the naive loop)"]
    if device.type == "cuda":
        tflops, share = unet_utilisation(project, 2 * params.batch_size, project.text_encoder.config.max_position_embeddings)
        lines.append(f"UNet alone at batch {2 * params.batch_size} (guidance doubles it): "
                     f"{tflops:.0f} TFLOP/s, {share:.0%} of the bf16 dense peak")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", choices=("demo", "sd15"), default="demo")
    parser.add_argument("--images", type=int, default=128, help="images timed per path")
    parser.add_argument("--naive-images", type=int, help="images timed for the naive loop (default --images)")
    parser.add_argument("--batch-size", type=int, help="default: the demo's, or the paper's for sd15")
    parser.add_argument("--dtype", choices=sorted(ldm.DTYPES), default="float16", help="GPU only")
    parser.add_argument("--scheduler", default="ddim")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--resolution", type=int)
    parser.add_argument("--workers", type=int, default=2, help="generate_shard's threads (end to end)")
    parser.add_argument("--levers", action="store_true", help="measure each GPU lever's effect instead")
    parser.add_argument("--no-compile", action="store_true", help="with --levers: skip torch.compile")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the three paths")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    gen = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())["generation"] if args.arch == "sd15" \
        else config["generation"]
    base = {"steps": gen["steps"], "resolution": gen["resolution"], **gen["pg"], "batch_size": gen["batch_size"]}
    settings = {k: v if getattr(args, k, None) is None else getattr(args, k) for k, v in base.items()}
    params = GenerationParams(variant="pg", scheduler=args.scheduler, seed=0, **settings)
    device = resolve("auto")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_random_pipeline(args.arch, config, tmp / "pipeline", variant=args.levers)
        plan = source_plan(tmp, args.images, params)
        project = ldm.load_pipeline(str(tmp / "pipeline"), device, args.dtype, scheduler=args.scheduler)
        title = f"img2img generation {'levers' if args.levers else 'throughput'}, {args.arch} architecture"
        lines = [header(title, {**settings, "scheduler": args.scheduler, "workers": args.workers,
                                "threads": args.threads, "images": args.images}), ""]
        if args.levers:
            levers = lever_rows(tmp / "pipeline", project, plan, params, args)
            lines += [(f"GPU levers of the production path (pipeline only, batch {params.batch_size} unless "
                      "the row sets it):"), "", pd.DataFrame(levers).to_string(index=False)]
        else:
            lines += throughput_lines(tmp, project, plan, params, args)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
