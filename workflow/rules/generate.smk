# Stage 2b: CDGA generation, one job per (dataset, variant, source, target, rep, shard), and the
# quality of what came out. Every ordered pair i != j per variant of the dataset, plus the
# within-domain pairs (i, i) with its first variant (method ldm_within).

from cdga.shards import storage_settings

GEN = config["generation"]
SHARED_GEN_KEYS = ("steps", "scheduler", "resolution", "seed")  # batch_size: execution, script reads it


wildcard_constraints:
    variant="|".join(map(re.escape, variants.VARIANTS)),
    src="[^/]+",
    tgt="[^/]+",
    rep=r"\d+",
    shard=r"\d+",


TARGETS += [f"{RESULTS}/summary/generation_quality.csv"]
TARGETS += [f"{RESULTS}/summary/figures/generation_grid_{ds}.{ext}"
            for ds in generated_datasets() for ext in ("png", "pdf")]


rule generate:
    """img2img over one shard of domain src's training images towards domain tgt."""
    input:
        split=lambda wc: split_table(wc.dataset),
        model=ldm_inputs(),
    output:
        tar=synthetic_shard("{dataset}", "{variant}", "{src}", "{tgt}", "{rep}", "{shard}"),
        manifest=synthetic_shard("{dataset}", "{variant}", "{src}", "{tgt}", "{rep}", "{shard}")[:-4] + ".csv",
    params:
        settings=prompt_settings,
        # image_format/image_quality shape the bytes; PNG adds none (storage_settings)
        generation=lambda wc: {**{k: GEN[k] for k in SHARED_GEN_KEYS}, wc.variant: GEN[wc.variant],
                               **storage_settings(GEN)},
        shards=lambda wc: shard_count(wc.dataset),
        ldm=config["ldm"],
    threads: GEN["threads"]
    log:
        f"{LOGS}/generate/{{dataset}}/{{variant}}/{{src}}--{{tgt}}/rep{{rep}}/shard{{shard}}.log",
    benchmark:
        f"{BENCH}/generate/generate_{{dataset}}_{{variant}}_{{src}}--{{tgt}}_rep{{rep}}_shard{{shard}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/generate.py"


rule generation_quality:
    """Score every synthetic image of a dataset with classifiers trained on its real images."""
    input:
        split=lambda wc: split_table(wc.dataset),
        shards=lambda wc: generation_shards(wc.dataset),
        manifests=lambda wc: [p[:-4] + ".csv" for p in generation_shards(wc.dataset)],
    output:
        summary=f"{RESULTS}/summary/generation_quality/{{dataset}}.csv",
        scores=f"{RESULTS}/summary/generation_quality/{{dataset}}_images.csv",
        png=report(
            f"{RESULTS}/summary/figures/generation_grid_{{dataset}}.png",
            caption="../report/generation_grid.rst",
            category="Generation",
        ),
        pdf=f"{RESULTS}/summary/figures/generation_grid_{{dataset}}.pdf",
    params:
        domains=lambda wc: list(domains(wc.dataset)),
        options=without(config["generation_quality"], "threads"),
    threads: config["generation_quality"]["threads"]
    log:
        f"{LOGS}/generate/generation_quality_{{dataset}}.log",
    benchmark:
        f"{BENCH}/generate/generation_quality_{{dataset}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/generation_quality.py"


rule generation_quality_table:
    """All datasets' generation quality in one table."""
    input:
        [f"{RESULTS}/summary/generation_quality/{ds}.csv" for ds in generated_datasets()],
    output:
        report(
            f"{RESULTS}/summary/generation_quality.csv",
            caption="../report/generation_quality.rst",
            category="Generation",
        ),
    log:
        f"{LOGS}/generate/generation_quality_table.log",
    benchmark:
        f"{BENCH}/generate/generation_quality_table.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/generation_quality_table.py"
