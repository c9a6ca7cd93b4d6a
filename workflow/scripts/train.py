"""Rule train: one DomainBed-protocol training run (resumes from its last checkpoint)."""

from pathlib import Path

import torch
from _logging import setup

from cdga import data, train

log = setup(snakemake)  # noqa: F821
wc = snakemake.wildcards  # noqa: F821
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
    holdout_fraction=snakemake.params.holdout_fraction,  # noqa: F821
    workers=data.num_workers(snakemake.params.num_workers),  # noqa: F821
)
log.info("%d checkpoints written", len(records))
