"""Rule train: one DomainBed-protocol training run (resumes from its last checkpoint)."""

from pathlib import Path

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import torch

from cdga.core import device
from cdga.training import loader as data
from cdga.training import train

wc = snakemake.wildcards  # noqa: F821
run = snakemake.config["training"]  # noqa: F821  (execution settings: read here, in no params)
torch.set_num_threads(snakemake.threads)  # noqa: F821
records = train.train(
    snakemake.input[0],  # noqa: F821
    Path(snakemake.output.results).parent,  # noqa: F821
    dataset=wc.dataset,
    method=wc.method,
    test_env=wc.test_env,
    level=int(wc.level),
    trial=int(wc.trial),
    cfg=snakemake.params.training,  # noqa: F821
    hparams_seed=snakemake.params.hparams_seed,  # noqa: F821
    holdout_fraction=snakemake.params.holdout_fraction,  # noqa: F821
    workers=data.num_workers(run["num_workers"]),
    eval_batch_size=run["eval_batch_size"],
    cache_images=run["cache_images"],
    prefetch_factor=run["prefetch_factor"],
    persistent_workers=run["persistent_workers"],
    jpeg_draft=run["jpeg_draft"],
    decode=run["decode"],
    device=device.resolve(snakemake.config["device"]),  # noqa: F821
)
log.info("%d checkpoints written", len(records))
