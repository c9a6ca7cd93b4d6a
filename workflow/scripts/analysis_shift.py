"""Rule shift: transferability and OoD-Bench shift, training domains (validation split) -> test
domain, per model."""

from _logging import setup

from cdga import gpu_slot

log = setup(snakemake)  # noqa: F821
gpu_slot.select(snakemake.resources)  # noqa: F821  (profiles/local: one GPU per job)
# torch comes after the GPU is chosen: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga import device, embedding, io, probe, shift

torch.set_num_threads(snakemake.threads)  # noqa: F821
dev = device.resolve(snakemake.config["device"])  # noqa: F821
wc, cfg = snakemake.wildcards, snakemake.params.settings  # noqa: F821
batch_size = snakemake.config["analyses"]["shift"]["batch_size"]  # noqa: F821  (execution)
res = snakemake.params.resolution  # noqa: F821
split = pd.read_csv(snakemake.input.split)  # noqa: F821
source, target = shift.probe_rows(split, wc.test_env, cfg["images"], cfg["seed"])
source_batches = probe.load(source, res, batch_size, dev)
target_batches = probe.load(target, res, batch_size, dev)
rows = []
for run, path in zip(snakemake.params.runs, snakemake.input.models, strict=True):  # noqa: F821
    model = probe.pixel_model(path, dev)
    result = shift.measure(model.model, embedding.extract_features(model, source_batches),
                           embedding.extract_features(model, target_batches), cfg)
    rows.append(run | result | {"source_images": len(source), "target_images": len(target)})
    log.info("%s: %s", path, result)
io.write_csv(snakemake.output[0], pd.DataFrame(rows))  # noqa: F821
