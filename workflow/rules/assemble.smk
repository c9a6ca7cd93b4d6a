# Stage 3: the image manifest of every training job, with the test-domain leakage guard.


wildcard_constraints:
    method="[a-z_]+",
    test_env="[^/]+",
    level="[0-9]+",


rule assemble:
    """Real images of every domain (train/val/test roles) plus the method's synthetic images
    (a filtered method's: those its filter job keeps)."""
    input:
        split=lambda wc: split_table(wc.dataset),
        synthetic=assembly_synthetic,
        keep=assembly_keep,  # filtered methods: the filter stage's decisions
    params:
        variant=lambda wc: methods.variant(wc.method, settings(wc.dataset)["variants"]),
    output:
        assembly_manifest("{dataset}", "{method}", "{test_env}", "{level}"),
    log:
        f"{LOGS}/assemble/{{dataset}}/{{method}}/{{test_env}}/scale{{level}}.log",
    benchmark:
        f"{BENCH}/assemble/assemble_{{dataset}}_{{method}}_{{test_env}}_scale{{level}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/assemble.py"
