"""Rule adversarial: FGSM/PGD accuracy of one selected model on its test domain."""

from _logging import setup

from cdga import gpu_slot

log = setup(snakemake)  # noqa: F821
gpu_slot.select(snakemake.resources)  # noqa: F821  (profiles/local: one GPU per job)
# torch comes after the GPU is chosen: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga import adversarial, device, io, probe

torch.set_num_threads(snakemake.threads)  # noqa: F821
dev = device.resolve(snakemake.config["device"])  # noqa: F821
wc, cfg = snakemake.wildcards, snakemake.params.settings  # noqa: F821
batch_size = snakemake.config["analyses"]["adversarial"]["batch_size"]  # noqa: F821  (execution)
rows = probe.real_rows(pd.read_csv(snakemake.input.split), [wc.test_env], None)  # noqa: F821
rows = probe.sample(rows, cfg["images"], cfg["seed"])
batches = probe.load(rows, snakemake.params.resolution, batch_size, dev)  # noqa: F821
model = probe.pixel_model(snakemake.input.model, dev)  # noqa: F821
table = pd.DataFrame(adversarial.evaluate(model, batches, cfg))
table.insert(0, "images", len(rows))
for i, key in enumerate(["dataset", "method", "test_env", "level", "trial"]):
    table.insert(i, key, wc[key])
io.write_csv(snakemake.output[0], table)  # noqa: F821
log.info("%s", table[["attack", "eps", "acc"]].to_string(index=False))
