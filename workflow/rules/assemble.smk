# Stage 3: the image manifest of every training job, with the test-domain leakage guard.

ASSEMBLY = wildcards_of("dataset", "method", "test_env", "level")


wildcard_constraints:
    method="[a-z_]+",
    test_env="[^/]+",
    level="[0-9]+",


rule assemble:
    """Real images of every domain (train/val/test roles) plus the method's synthetic images
    (a filtered method's: those its filter job keeps)."""
    input:
        split=lambda wc: layout.split_table(wc.dataset),
        synthetic=lambda wc: PLAN.assembly_synthetic(**job(wc)),
        keep=lambda wc: PLAN.assembly_keep(wc.dataset, wc.method, wc.test_env),
    params:
        variant=lambda wc: PLAN.variant(wc.dataset, wc.method),
    output:
        layout.assembly_manifest(**ASSEMBLY),
    log:
        layout.log("assemble", **ASSEMBLY),
    benchmark:
        layout.benchmark("assemble", **ASSEMBLY)
    conda:
        CONDA_ENV
    script:
        "../scripts/assemble.py"
