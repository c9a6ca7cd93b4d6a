"""Generation throughput (images/s): the project's img2img path against the naive loop, same run.

Both pipelines carry the same random weights (weights do not change the speed), saved with
``save_pretrained`` and loaded back:

* pipeline only: ``cdga.generation.ldm.load_pipeline`` as a job loads it (half precision on a GPU, float32
  on the CPU; the UNet compiled where ``--compile`` resolves on, channels-last then, contiguous
  in eager: ``cdga.generation.accel``; the sync-free scheduler step where ``--sync-free-steps``
  resolves on: ``cdga.generation.syncs``), ``--batch-size`` images per call with per-image seeds, inputs
  prepared beforehand (``cdga.generation.generate.run_pipeline``: uint8 pixels decoded on the device);
* end to end: ``cdga.generation.generate.generate_shard`` over a plan of source images on disk, as a
  generation job runs it: reading and preparing the sources, the pipeline, PNG encoding, batch
  tars, the shard and its manifest; overlapped (``--workers`` threads, auto: the node's cores)
  and serial (0);
* naive: ``from_pretrained`` in float32 and one image per pipeline call, the loop peers use.

``--arch demo`` is the demo LDM's architecture (config/config.yaml) at the demo's PG settings;
``--arch sd15`` is Stable Diffusion v1.5's (UNet 860 M, VAE 84 M, CLIP ViT-L/14 text encoder) at
the paper settings (512 px, 50 steps, strength 0.6, guidance 7.5). On CUDA the UNet's own rate
is also timed and set against the GPU's dense bf16 peak. ``--levers [NAMES]`` measures instead
each lever of ``cdga.generation.accel`` alone against the eager base: the fp16 weight variant (bytes and
seconds to load), channels-last in eager, each SDPA backend, the float output copied against
uint8 decoding on the device, the host syncs per call with diffusers' scheduler step and
with the sync-free one (scalar reads counted on every device, CUDA syncs on CUDA) and the
sync-free step's rate, and torch.compile of the UNet
(contiguous and channels-last), of the UNet and VAE, and in other Inductor modes (each with its
first-call seconds and its grey-level distance from eager). ``--compile-backend eager`` runs
the compile paths through Dynamo's trace only (the CPU check).
Usage: python generation_throughput.py [--arch demo|sd15] [--images N] [--repeats R] [--levers [NAMES]] [--out FILE]
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

from cdga.core.device import resolve
from cdga.generation import accel, demo_ldm, ldm, syncs
from cdga.generation.generate import (
    GenerationParams,
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


def pipeline_rate(pipe, plan: pd.DataFrame, params: GenerationParams, attention: str = "auto") -> float:
    """Images/s of the pipeline calls alone (``run_pipeline``: uint8 pixels on the host), their
    inputs prepared beforehand and padded to the batch shape, after a warm-up batch."""
    size = min(params.batch_size, len(plan))
    inputs = [prepare_batch(pipe, plan.iloc[s : s + size], params, size) for s in range(0, len(plan), size)]
    with accel.attention(attention):
        run_pipeline(pipe, inputs[0])  # warm-up: the first batch as it will be timed
        sync(pipe.device)
        start = time.perf_counter()
        for batch in inputs:
            run_pipeline(pipe, batch)
        sync(pipe.device)
    return len(plan) / (time.perf_counter() - start)


def end_to_end_rate(pipe, plan: pd.DataFrame, params: GenerationParams, out: Path, workers: int,
                    pad: bool) -> float:
    """Images/s of ``generate_shard`` (sources on disk to shard and manifest), after a warm-up."""
    run_pipeline(pipe, prepare_batch(pipe, plan.iloc[: params.batch_size], params))  # warm-up
    sync(pipe.device)
    start = time.perf_counter()
    generate_shard(pipe, plan, params, "bench", out / "shard0.tar", out / "shard0.csv", progress=False,
                   workers=workers, pad=pad)
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
        unet.forward(x, t, context)  # eager: the FLOPs of the model, compiled or not
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


LEVERS = ("weights", "memory_format", "attention", "decode", "syncs", "compile", "compile_vae",
          "compile_mode")


def host_syncs(pipe, inputs: dict, params: GenerationParams) -> str:
    """Device-to-host reads of one pipeline call: its scalar reads (``syncs.ScalarReads``, on
    every device; on a GPU each read of a device tensor is a sync) and where they are, and on
    CUDA every sync (CUDA's sync debug mode counts them, blocking copies included)."""
    import warnings

    cuda = pipe.device.type == "cuda"
    if cuda:
        torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught, syncs.ScalarReads() as reads:
            warnings.simplefilter("always")
            run_pipeline(pipe, inputs)
    finally:
        if cuda:
            torch.cuda.set_sync_debug_mode(0)
    denoising = min(int(params.steps * params.strength), params.steps)
    where = ", ".join(f"{line} x{n}" for line, n in reads.by_line.most_common(3))
    value = (f"{reads.count} scalar reads per call ({reads.by_device[pipe.device.type]} of {pipe.device.type} "
             f"tensors, {reads.count / denoising:.1f} per denoising step; {where or 'none'})")
    if cuda:
        value += f"; {sum('synchroniz' in str(w.message) for w in caught)} CUDA syncs per call"
    return value


def pt_output_rate(pipe, plan: pd.DataFrame, params: GenerationParams) -> float:
    """Images/s of the pipeline's own float ``"pt"`` output copied to the host and made 8-bit
    there (the path before uint8 decoding on the device)."""
    inputs = [prepare_batch(pipe, plan.iloc[s : s + params.batch_size], params)
              for s in range(0, len(plan), params.batch_size)]
    to_bytes = lambda b: (pipe(**b, output_type="pt").images.cpu().float() * 255).round().to(torch.uint8)
    to_bytes(inputs[0])
    sync(pipe.device)
    start = time.perf_counter()
    for batch in inputs:
        to_bytes(batch)
    return len(plan) / (time.perf_counter() - start)


def compiled_pipeline(model: Path, plan: pd.DataFrame, params: GenerationParams, args, channels_last: bool,
                      mode: str = "default", vae: bool = False):
    """A fresh pipeline compiled as a job compiles it, and the seconds of its first call."""
    pipe = ldm.load_pipeline(str(model), resolve("auto"), args.dtype, scheduler=args.scheduler,
                             channels_last=channels_last)
    accel.compile_modules(pipe, mode, vae=vae, backend=args.compile_backend)
    start = time.perf_counter()
    warm_up(pipe, params, min(params.batch_size, len(plan)))
    return pipe, time.perf_counter() - start


def lever_rows(model: Path, pipe, plan: pd.DataFrame, params: GenerationParams, args):
    """The effect of each GPU lever alone on the pipeline-only rate (eager, contiguous, torch's
    attention, uint8 decoding on the device is the base), one row at a time as measured."""
    device = pipe.device
    wanted = set(args.levers.split(",")) if args.levers != "all" else set(LEVERS)
    if unknown := wanted - set(LEVERS):
        raise SystemExit(f"unknown --levers {sorted(unknown)}; known: {list(LEVERS)}")
    rate = lambda p, **kw: f"{pipeline_rate(p, plan, params, **kw):.3f} images/s"
    yield {"lever": "base", "setting": "eager, contiguous, attention auto, uint8 decode on the device, "
                                          "diffusers' scheduler step",
           "value": rate(pipe)}
    if "weights" in wanted:
        plain = without_variant(model, model.parent / "float32_only")
        for name, folder, variant in (("fp16 variant", model, True), ("float32 files, cast", plain, False)):
            start = time.perf_counter()
            ldm.load_weights(str(folder), torch.float16)
            yield {"lever": "weights read in float16", "setting": name,
                   "value": f"{weight_bytes(model, variant) / 1e6:.0f} MB, {time.perf_counter() - start:.1f} s"}
    if "memory_format" in wanted:
        other = ldm.load_pipeline(str(model), device, args.dtype, scheduler=args.scheduler, channels_last=True)
        yield {"lever": "memory format (eager)", "setting": "channels-last", "value": rate(other)}
        del other
    if "attention" in wanted:
        for backend in args.attention.split(","):
            try:
                value = rate(pipe, attention=backend)
            except RuntimeError as exc:  # no kernel of that backend for this device, dtype or shape
                value = f"not available: {str(exc).splitlines()[0][:80]}"
            yield {"lever": "attention backend", "setting": backend, "value": value}
    if "decode" in wanted:
        yield {"lever": "decoding", "setting": "float pt output copied, 8-bit on the host",
               "value": f"{pt_output_rate(pipe, plan, params):.3f} images/s"}
    if "syncs" in wanted:  # the counts do not depend on the batch size: one image a call
        plain = pipe.scheduler
        yield {"lever": "host syncs", "setting": "diffusers' step",
               "value": host_syncs(pipe, prepare_batch(pipe, plan.iloc[:1], params), params)}
        syncs.use_sync_free_steps(pipe)
        try:
            yield {"lever": "host syncs", "setting": "sync_free_steps",
                   "value": host_syncs(pipe, prepare_batch(pipe, plan.iloc[:1], params), params)}
            yield {"lever": "sync-free steps", "setting": f"{type(pipe.scheduler).__name__}", "value": rate(pipe)}
        finally:
            pipe.scheduler = plain
    compiles = [("compile", "UNet", "default", False, False), ("compile", "UNet, channels-last", "default", True, False),
                ("compile_vae", "UNet + VAE encoder/decoder", "default", False, True),
                *(("compile_mode", f"UNet, mode {m}", m, False, False) for m in args.compile_modes.split(",") if m)]
    reference = run_batch(pipe, plan.iloc[: params.batch_size], params)
    for lever, name, mode, channels_last, vae in compiles:
        if lever not in wanted:
            continue
        torch._dynamo.reset()
        compiled, first = compiled_pipeline(model, plan, params, args, channels_last, mode, vae)
        value = rate(compiled)
        images = run_batch(compiled, plan.iloc[: params.batch_size], params)
        diff = max(int(np.abs(np.asarray(a, int) - np.asarray(b, int)).max()) for a, b in zip(reference, images))
        yield {"lever": f"torch.compile ({args.compile_backend})", "setting": f"{name}; first call {first:.0f} s",
               "value": f"{value}, within {diff} grey levels of eager"}
        del compiled


def source_rows(plan: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` plan rows: the plan's, repeated as needed (the rate does not depend on which)."""
    return plan.iloc[np.arange(n) % len(plan)]


def throughput_lines(tmp: Path, project, plan: pd.DataFrame, params: GenerationParams, args,
                     compiled: bool) -> list[str]:
    """The table of pipeline-only, end-to-end and naive images/s, and their ratios, the
    project's paths as a job runs them (compiled jobs pad their last batch)."""
    device = project.device
    workers = accel.writer_workers(args.workers, device)
    start = time.perf_counter()
    warm_up(project, params, min(params.batch_size, len(plan)))
    first = time.perf_counter() - start
    # Rounds interleave the three paths, each round into new shards (a finished shard resumes):
    # the medians are compared, so one slow stretch of the machine does not decide a ratio.
    rounds = [(pipeline_rate(project, plan, params),
               end_to_end_rate(project, plan, params, tmp / f"overlapped{r}", workers, compiled),
               end_to_end_rate(project, plan, params, tmp / f"serial{r}", 0, compiled))
              for r in range(args.repeats)]
    only, overlapped, serial = (float(np.median(path)) for path in zip(*rounds, strict=True))
    naive = StableDiffusionImg2ImgPipeline.from_pretrained(tmp / "pipeline", dtype=torch.float32).to(device)
    naive.scheduler = ldm.make_scheduler(args.scheduler, naive.scheduler.config)
    naive.set_progress_bar_config(disable=True)
    slow = naive_rate(naive, plan.head(args.naive_images or args.images), params)
    del naive
    precision = str(project.unet.dtype).replace("torch.", "")
    steps = ", sync-free steps" if isinstance(project.scheduler, syncs.HostTimesteps) else ""
    how = f"{'compiled' if compiled else 'eager'}, {precision}{steps}"
    rows = [{"path": f"pipeline only: batch {params.batch_size}, {how}", "images/s": round(only, 3)},
            {"path": f"end to end (generate_shard, {workers} workers)", "images/s": round(overlapped, 3)},
            {"path": "end to end, serial (0 workers)", "images/s": round(serial, 3)},
            {"path": "naive: batch 1, float32", "images/s": round(slow, 3)}]
    lines = [pd.DataFrame(rows).to_string(index=False), "",
             (f"end to end / pipeline only: {overlapped / only:.1%} overlapped, {serial / only:.1%} serial "
              f"(goal >= 95 %; medians of {args.repeats} interleaved rounds)"),
             "per round (pipeline only, overlapped, serial): "
             + "; ".join(", ".join(f"{v:.2f}" for v in r) for r in rounds),
             f"ratio project / naive: {overlapped / slow:.2f}x (end to end against the naive loop)",
             f"first call (CUDA context, kernels{', compiling' if compiled else ''}): {first:.1f} s"]
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
    parser.add_argument("--workers", default="auto", type=lambda v: v if v == "auto" else int(v),
                        help="generate_shard's threads (end to end; auto: cdga.generation.accel.writer_workers)")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="the throughput paths: compile the UNet (auto: on CUDA), as a job does")
    parser.add_argument("--sync-free-steps", choices=("auto", "on", "off"), default="auto",
                        help="the throughput paths: the sync-free scheduler step (auto: on CUDA), as a job does")
    parser.add_argument("--compile-backend", default="inductor", help="'eager': Dynamo's trace only (CPU checks)")
    parser.add_argument("--compile-cache", type=Path, help="Inductor's persistent cache directory")
    parser.add_argument("--levers", nargs="?", const="all", help=f"measure these GPU levers instead (all: {','.join(LEVERS)})")
    parser.add_argument("--attention", default="flash,cudnn,efficient", help="with --levers: SDPA backends")
    parser.add_argument("--compile-modes", default="reduce-overhead", help="with --levers: Inductor modes beyond default")
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
    accel.use_compile_cache(args.compile_cache)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_random_pipeline(args.arch, config, tmp / "pipeline", variant=bool(args.levers))
        plan = source_plan(tmp, args.images, params)
        title = f"img2img generation {'levers' if args.levers else 'throughput'}, {args.arch} architecture"
        lines = [header(title, {**settings, "scheduler": args.scheduler, "workers": args.workers,
                                "threads": args.threads, "images": args.images, "compile": args.compile,
                                "compile_backend": args.compile_backend, "sync_free_steps": args.sync_free_steps}),
                 ""]
        if args.levers:
            project = ldm.load_pipeline(str(tmp / "pipeline"), device, args.dtype, scheduler=args.scheduler)
            lines += [f"GPU levers of the production path, each alone (pipeline only, batch {params.batch_size}):", ""]
            rows = []
            for row in lever_rows(tmp / "pipeline", project, plan, params, args):
                rows.append(row)  # written as measured: a step that runs out of time keeps its rows
                emit([*lines, pd.DataFrame(rows).to_string(index=False)], args.out, quiet=True)
            lines.append(pd.DataFrame(rows).to_string(index=False))
        else:
            compiled = accel.compile_on({"auto": "auto", "on": True, "off": False}[args.compile], device)
            project = ldm.load_pipeline(str(tmp / "pipeline"), device, args.dtype, scheduler=args.scheduler,
                                        channels_last=accel.channels_last_on("auto", device, compiled))
            if compiled:
                accel.compile_modules(project, backend=args.compile_backend)
            sync_free = syncs.sync_free_on({"auto": "auto", "on": True, "off": False}[args.sync_free_steps], device)
            if sync_free:
                syncs.use_sync_free_steps(project)
            lines += throughput_lines(tmp, project, plan, params, args, compiled)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
