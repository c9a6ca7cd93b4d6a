"""Rule shift: transferability and OoD-Bench shift, training domains (validation split) -> test
domain, per model."""

import pandas as pd
import torch
from _logging import setup

from cdga import embedding, io, probe, shift

log = setup(snakemake)  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
wc, cfg = snakemake.wildcards, snakemake.params.settings  # noqa: F821
res = snakemake.params.resolution  # noqa: F821
split = pd.read_csv(snakemake.input.split)  # noqa: F821
source, target = shift.probe_rows(split, wc.test_env, cfg["images"], cfg["seed"])
source_batches = probe.load(source, res, cfg["batch_size"])
target_batches = probe.load(target, res, cfg["batch_size"])
rows = []
for run, path in zip(snakemake.params.runs, snakemake.input.models, strict=True):  # noqa: F821
    model = probe.pixel_model(path)
    result = shift.measure(model.model, embedding.extract_features(model, source_batches),
                           embedding.extract_features(model, target_batches), cfg)
    rows.append(run | result | {"source_images": len(source), "target_images": len(target)})
    log.info("%s: %s", path, result)
io.write_csv(snakemake.output[0], pd.DataFrame(rows))  # noqa: F821
