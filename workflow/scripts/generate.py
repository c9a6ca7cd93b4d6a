"""Rule generate: one shard of CDGA-PG or CDGA-IG images, resuming from finished batches."""

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
from dataclasses import replace

import pandas as pd
import torch

from cdga import device, generation, ldm

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
wc = sm.wildcards
# Execution settings (speed only), read here and in no params: batch_size (images per pipeline
# call), auto_batch_size, compile (the UNet) and workers (threads that prepare and write batches
# beside an accelerator; a CPU job runs serially).
run = sm.config["generation"]
params = generation.GenerationParams.from_config(
    {**sm.params.generation, "batch_size": run["batch_size"]}, wc.variant)
plan = generation.plan_shard(pd.read_csv(sm.input.split), wc.dataset, sm.params.settings, params,
                             wc.src, wc.tgt, int(wc.rep), int(wc.shard), sm.params.shards)
pipe = ldm.load_pipeline(sm.params.ldm["model"], device=device.resolve(sm.config["device"]),
                         dtype=sm.params.ldm["dtype"], safety_checker=sm.params.ldm["safety_checker"],
                         scheduler=params.scheduler)
params = replace(params, batch_size=generation.job_batch_size(pipe, params, sm.output.tar, run["auto_batch_size"]))
if run["compile"]:
    ldm.compile_unet(pipe)  # after the memory probe, which would compile its own batch shapes
workers = generation.overlap_workers(run["workers"], pipe.device)
log.info("%s %s -> %s rep %s shard %s: %d images, batch size %d, %d overlap threads", wc.variant,
         wc.src, wc.tgt, wc.rep, wc.shard, len(plan), params.batch_size, workers)
generation.generate_shard(pipe, plan, params, sm.params.ldm["model"], sm.output.tar, sm.output.manifest,
                          workers=workers)
