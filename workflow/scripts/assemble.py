"""Rule assemble: one training job's manifest, leakage-checked."""

import pandas as pd
from _logging import setup

from cdga.core import io, methods, registry
from cdga.filtering import keep as filtering
from cdga.training import assembly

log = setup(snakemake)  # noqa: F821
wc = snakemake.wildcards  # noqa: F821
split = pd.read_csv(snakemake.input.split)  # noqa: F821
synthetic = assembly.read_synthetic(snakemake.input.synthetic)  # noqa: F821
for keep in snakemake.input.keep:  # noqa: F821  (filtered methods: one keep list)
    before = synthetic
    synthetic = filtering.kept(synthetic, pd.read_csv(keep, keep_default_na=False), keep)
    log.info("keep list %s: %d of %d synthetic images kept", keep, len(synthetic), len(before))
    empty = sorted(set(before["target_domain"]) - set(synthetic["target_domain"]))
    if empty:  # cdga.training.train trains these domains on real images only; the tables' note says so
        log.warning("keep list %s keeps no synthetic image with target domain(s) %s", keep, empty)
cfg = snakemake.config  # noqa: F821
domains = registry.resolve(wc.dataset, cfg["dataset_settings"][wc.dataset], cfg["datasets_root"]).domains
pairs = methods.synthetic_pairs(wc.method, domains, wc.test_env)
manifest = assembly.assemble(split, wc.test_env, synthetic, pairs,
                             snakemake.params.variant, int(wc.level))  # noqa: F821
io.write_csv(snakemake.output[0], manifest)  # noqa: F821
log.info("%s", manifest.groupby(["role", "origin", "domain"]).size().to_dict())
