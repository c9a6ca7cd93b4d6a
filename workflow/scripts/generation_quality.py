"""Rule generation_quality: domain transfer, class fidelity and near-duplicates per pair; grid figure."""

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga import device
from cdga import generation_quality as gq
from cdga.io import write_csv

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
opts = sm.params.options
table = pd.read_csv(sm.input.split)
manifest = gq.read_manifests(sm.input.manifests)
summary, scores = gq.evaluate(table, manifest, sm.params.domains, opts, opts["resolution"],
                              device.resolve(sm.config["device"]))
write_csv(sm.output.scores, scores)
write_csv(sm.output.summary, summary)
log.info("\n%s", summary.to_string(index=False))
gq.grid_figure(manifest, sm.output.png, sm.output.pdf, opts["grid_examples"], opts["resolution"])
