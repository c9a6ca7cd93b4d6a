"""Rule landscape: loss surfaces and sharpness of one selected model."""

from _logging import setup

from cdga import gpu_slot

log = setup(snakemake)  # noqa: F821
gpu_slot.select(snakemake.resources)  # noqa: F821  (profiles/local: one GPU per job)
# torch comes after the GPU is chosen: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga import device, io, landscape, probe

torch.set_num_threads(snakemake.threads)  # noqa: F821
dev = device.resolve(snakemake.config["device"])  # noqa: F821
wc, cfg = snakemake.wildcards, snakemake.params.settings  # noqa: F821
batch_size = snakemake.config["analyses"]["landscape"]["batch_size"]  # noqa: F821  (execution)
split = pd.read_csv(snakemake.input.split)  # noqa: F821
train_envs = sorted(set(split["domain"]) - {wc.test_env})
probes = {
    "train domains": probe.sample(probe.real_rows(split, train_envs, "train"), cfg["images"],
                                  cfg["seed"]),
    "test domain": probe.sample(probe.real_rows(split, [wc.test_env], None), cfg["images"],
                                cfg["seed"]),
}
batches = {k: probe.load(v, snakemake.params.resolution, batch_size, dev)  # noqa: F821
           for k, v in probes.items()}
model = probe.pixel_model(snakemake.input.model, dev)  # noqa: F821
surfaces, summary = landscape.analyse(model, batches, cfg)
keys = {k: wc[k] for k in ("dataset", "method", "test_env", "level", "trial")}
summary = pd.DataFrame([keys | row | {"images": len(probes[row["data"]])} for row in summary])
io.write_csv(snakemake.output.summary, summary)  # noqa: F821
io.write_csv(snakemake.output.surface, pd.DataFrame([keys | row for row in surfaces]))  # noqa: F821
log.info("%s", summary.to_string(index=False))
