# Stage 2a: the demo LDM, a tiny Stable-Diffusion-architecture pipeline trained in the DAG.
# Generation depends on it only when ldm.model names its directory (common.smk: ldm_inputs).


rule train_demo_ldm:
    """Train the demo LDM on the demo dataset's captioned pretraining corpus; save_pretrained it."""
    input:
        DEMO_PRETRAIN,
    output:
        directory(DEMO_LDM),
    params:
        options=without(config["demo_ldm"], "threads"),
        work_dir=f"{DEMO_LDM}.work",  # tokenizer files and resumable checkpoints
    threads: config["demo_ldm"]["threads"]
    log:
        f"{LOGS}/ldm/train_demo_ldm.log",
    benchmark:
        f"{BENCH}/ldm/train_demo_ldm.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/train_demo_ldm.py"
