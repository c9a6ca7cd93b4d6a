"""Rule tsne: t-SNE map of real images (by domain) and training synthetic images (by pair)."""

from _logging import setup

from cdga import gpu_slot

log = setup(snakemake)  # noqa: F821
gpu_slot.select(snakemake.resources)  # noqa: F821  (profiles/local: one GPU per job)
# torch comes after the GPU is chosen: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga import device, embedding, figures, io, probe

torch.set_num_threads(snakemake.threads)  # noqa: F821
dev = device.resolve(snakemake.config["device"])  # noqa: F821
wc, cfg = snakemake.wildcards, snakemake.params.settings  # noqa: F821
batch_size = snakemake.config["analyses"]["tsne"]["batch_size"]  # noqa: F821  (execution)
real = probe.sample(pd.read_csv(snakemake.input.split), cfg["real_images"], cfg["seed"])  # noqa: F821
assembly = pd.read_csv(snakemake.input.assembly, keep_default_na=False)  # noqa: F821
synthetic = assembly[(assembly["origin"] == "synthetic") & (assembly["role"] == "train")]
synthetic = probe.sample(synthetic.assign(pair=synthetic["source_domain"] + "--"
                                          + synthetic["target_domain"]),
                         cfg["synthetic_images"], cfg["seed"], by="pair")
points = embedding.tsne_points(probe.pixel_model(snakemake.input.model, dev), real,  # noqa: F821
                               synthetic, wc.test_env, snakemake.params.resolution,  # noqa: F821
                               batch_size, cfg["perplexity"], cfg["seed"], dev)
io.write_csv(snakemake.output.points, points)  # noqa: F821
title = (f"{wc.dataset}, test domain {wc.test_env}: {cfg['method']} features, "
         f"{snakemake.params.synthetic_method} synthetic images")  # noqa: F821
figures.save(figures.tsne(points, title), snakemake.output.png, snakemake.output.pdf)  # noqa: F821
log.info("embedded %d real and %d synthetic images", len(real), len(synthetic))
