# Stage 1: dataset preparation (DomainBed layout) and the train/validation split table.

TARGETS += [layout.split_table(ds) for ds in PLAN.datasets]


rule make_demo_digits:
    """Render the demo dataset and its LDM pretraining corpus from scikit-learn's digits."""
    output:
        dataset=directory(layout.dataset_dir(DATA_ROOT, registry.DEMO)),
        pretrain=directory(layout.dataset_dir(DATA_ROOT, registry.DEMO_PRETRAIN)),
    params:
        descriptions=lambda wc: PLAN.settings(registry.DEMO)["descriptions"],
        prompt_template=lambda wc: PLAN.settings(registry.DEMO)["prompt_template"],
        options=config["demo_digits"],
    log:
        log_of("make_demo_digits"),
    benchmark:
        benchmark_of("make_demo_digits")
    conda:
        CONDA_ENV
    script:
        "../scripts/make_demo_digits.py"


rule split_dataset:
    """List, verify and split one dataset into the image table every later stage reads."""
    input:
        lambda wc: PLAN.dataset_input(wc.dataset),
    output:
        layout.split_table("{dataset}"),
    params:
        root=DATA_ROOT,
        domains=lambda wc: list(PLAN.domains(wc.dataset)),
        holdout_fraction=config["split"]["holdout_fraction"],
        seed=config["split"]["seed"],
    log:
        log_of("split_dataset", "dataset"),
    benchmark:
        benchmark_of("split_dataset", "dataset")
    conda:
        CONDA_ENV
    script:
        "../scripts/split_dataset.py"
