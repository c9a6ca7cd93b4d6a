"""Rule generate: one shard of CDGA-PG or CDGA-IG images, resuming from finished batches."""

from _logging import setup

from cdga import gpu_slot

log = setup(snakemake)  # noqa: F821
gpu_slot.select(snakemake.resources)  # noqa: F821  (profiles/local: one GPU per job)
# torch comes after the GPU is chosen: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga import device, generation, ldm

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
wc = sm.wildcards
# batch_size is an execution setting (images per pipeline call): read here, in no params.
params = generation.GenerationParams.from_config(
    {**sm.params.generation, "batch_size": sm.config["generation"]["batch_size"]}, wc.variant)
plan = generation.plan_shard(pd.read_csv(sm.input.split), wc.dataset, sm.params.settings, params,
                             wc.src, wc.tgt, int(wc.rep), int(wc.shard), sm.params.shards)
pipe = ldm.load_pipeline(sm.params.ldm["model"], device=device.resolve(sm.config["device"]),
                         dtype=sm.params.ldm["dtype"], safety_checker=sm.params.ldm["safety_checker"],
                         scheduler=params.scheduler)
log.info("%s %s -> %s rep %s shard %s: %d images", wc.variant, wc.src, wc.tgt, wc.rep, wc.shard, len(plan))
generation.generate_shard(pipe, plan, params, sm.params.ldm["model"], sm.output.tar, sm.output.manifest)
