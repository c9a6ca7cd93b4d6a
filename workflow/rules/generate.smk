# Stage 2b: CDGA generation, one job per (dataset, variant, source, target, rep, shard), and the
# quality of what came out. Only the pairs some training run reads are generated (cdga.plan):
# ordered pairs i != j per variant, and the within-domain pairs (i, i) of method ldm_within.
from cdga.generation import variants

SHARD = wildcards_of("dataset", "variant", "src", "tgt", "rep", "shard")


wildcard_constraints:
    variant="|".join(map(re.escape, variants.VARIANTS)),
    src="[^/]+",
    tgt="[^/]+",
    rep=r"\d+",
    shard=r"\d+",


TARGETS += [layout.summary("generation_quality")]
TARGETS += [layout.generation_quality(ds)[ext] for ds in PLAN.generated_datasets()
            for ext in ("png", "pdf")]


rule generate:
    """img2img over one shard of domain src's training images towards domain tgt."""
    input:
        split=lambda wc: layout.split_table(wc.dataset),
        model=PLAN.ldm_inputs(),
    output:
        tar=layout.synthetic_shard(**SHARD),
        manifest=layout.synthetic_manifest(**SHARD),
    params:
        # prompt settings, the generation keys this job reads, shards, ldm (cdga.plan)
        **{key: (lambda wc, key=key: PLAN.generate_params(wc.dataset, wc.variant, wc.tgt)[key])
           for key in ("settings", "generation", "shards", "ldm")},
    threads: config["generation"]["threads"]
    log:
        layout.log("generate", **SHARD),
    benchmark:
        layout.benchmark("generate", **SHARD)
    conda:
        CONDA_ENV
    script:
        "../scripts/generate.py"


rule generation_quality:
    """Score every synthetic image of a dataset with classifiers trained on its real images."""
    input:
        split=lambda wc: layout.split_table(wc.dataset),
        shards=lambda wc: PLAN.generation_shards(wc.dataset),
        manifests=lambda wc: list(map(layout.manifest_of, PLAN.generation_shards(wc.dataset))),
    output:
        summary=layout.generation_quality("{dataset}")["summary"],
        scores=layout.generation_quality("{dataset}")["scores"],
        png=report(layout.generation_quality("{dataset}")["png"],
                   caption="../report/generation_grid.rst", category="Generation"),
        pdf=layout.generation_quality("{dataset}")["pdf"],
    params:
        domains=lambda wc: list(PLAN.domains(wc.dataset)),
        options=execution.job_block("generation_quality", config["generation_quality"]),
    threads: config["generation_quality"]["threads"]
    log:
        log_of("generation_quality", "dataset"),
    benchmark:
        benchmark_of("generation_quality", "dataset")
    conda:
        CONDA_ENV
    script:
        "../scripts/generation_quality.py"


rule generation_quality_table:
    """All datasets' generation quality in one table."""
    input:
        [layout.generation_quality(ds)["summary"] for ds in PLAN.generated_datasets()],
    output:
        report(layout.summary("generation_quality"), caption="../report/generation_quality.rst",
               category="Generation"),
    log:
        log_of("generation_quality_table"),
    benchmark:
        benchmark_of("generation_quality_table")
    conda:
        CONDA_ENV
    script:
        "../scripts/generation_quality_table.py"
