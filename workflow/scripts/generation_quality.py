"""Rule generation_quality: domain transfer, class fidelity and near-duplicates per pair; grid figure."""

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga.core import device
from cdga.core.io import write_csv
from cdga.generation import quality as gq

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
opts = sm.params.options
table = pd.read_csv(sm.input.split)
# a seeded sample per pair and the grid's candidate rows, one manifest at a time
sample, grid = gq.read_sample(sm.input.manifests, opts["max_images_per_pair"], opts["seed"])
summary, scores = gq.evaluate(table, sample, sm.params.domains, opts, opts["resolution"],
                              device.resolve(sm.config["device"]))
write_csv(sm.output.scores, scores)
write_csv(sm.output.summary, summary)
log.info("\n%s", summary.to_string(index=False))
gq.grid_figure(grid, sm.output.png, sm.output.pdf, opts["grid_examples"], opts["resolution"])
