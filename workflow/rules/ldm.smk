# Stage 2a: the demo LDM, a tiny Stable-Diffusion-architecture pipeline trained in the DAG.
# Generation depends on it only when ldm.model names its directory (cdga.plan: ldm_inputs).


rule train_demo_ldm:
    """Train the demo LDM on the demo dataset's captioned pretraining corpus; save_pretrained it."""
    input:
        layout.dataset_dir(DATA_ROOT, registry.DEMO_PRETRAIN),
    output:
        directory(layout.demo_ldm()),
    params:
        options=execution.job_block("demo_ldm", config["demo_ldm"]),
        work_dir=layout.demo_ldm_work(),  # tokenizer files and resumable checkpoints
    threads: config["demo_ldm"]["threads"]
    log:
        log_of("train_demo_ldm"),
    benchmark:
        benchmark_of("train_demo_ldm")
    conda:
        CONDA_ENV
    script:
        "../scripts/train_demo_ldm.py"
