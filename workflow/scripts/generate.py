"""Rule generate: one shard of CDGA-PG or CDGA-IG images, resuming from finished batches."""

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
from dataclasses import replace

import pandas as pd
import torch

from cdga.core import device
from cdga.generation import accel, ldm, syncs
from cdga.generation import generate as generation

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
wc = sm.wildcards
# Execution settings (speed only), read here and in no params: batch_size (images per pipeline
# call), auto_batch_size, workers (threads that prepare and write batches beside an accelerator;
# a CPU job runs serially) and the levers of cdga.generation.accel: compile, compile_mode, compile_vae,
# compile_cache, memory_format and attention; and sync_free_steps (cdga.generation.syncs).
run = sm.config["generation"]
params = generation.GenerationParams.from_config(
    {**sm.params.generation, "batch_size": run["batch_size"]}, wc.variant)
plan = generation.plan_shard(pd.read_csv(sm.input.split), wc.dataset, sm.params.settings, params,
                             wc.src, wc.tgt, int(wc.rep), int(wc.shard), sm.params.shards)
dev = device.resolve(sm.config["device"])
compiled = accel.compile_on(run["compile"], dev)
pipe = ldm.load_pipeline(sm.params.ldm["model"], device=dev, dtype=sm.params.ldm["dtype"],
                         safety_checker=sm.params.ldm["safety_checker"], scheduler=params.scheduler,
                         channels_last=accel.channels_last_on(run["memory_format"], dev, compiled))
if syncs.sync_free_on(run["sync_free_steps"], dev) and syncs.use_sync_free_steps(pipe):
    log.info("scheduler %s: sync-free step (host timesteps)", type(pipe.scheduler).__name__)
params = replace(params, batch_size=generation.job_batch_size(pipe, params, sm.output.tar, run["auto_batch_size"]))
if compiled:  # after the memory probe, which would compile its own batch shapes
    cache = accel.use_compile_cache(run["compile_cache"])
    names = accel.compile_modules(pipe, run["compile_mode"], vae=run["compile_vae"])
    log.info("compiled %s (mode %s, cache %s)", ", ".join(names), run["compile_mode"], cache or "torch's default")
workers = accel.writer_workers(run["workers"], pipe.device)
log.info("%s %s -> %s rep %s shard %s: %d images, batch size %d, %d overlap threads, attention %s",
         wc.variant, wc.src, wc.tgt, wc.rep, wc.shard, len(plan), params.batch_size, workers, run["attention"])
generation.generate_shard(pipe, plan, params, sm.params.ldm["model"], sm.output.tar, sm.output.manifest,
                          workers=workers, pad=compiled, attention=run["attention"])
