# Stage 1: dataset preparation (DomainBed layout) and the train/validation split table.

TARGETS += [split_table(ds) for ds in config["datasets"]]


rule make_demo_digits:
    """Render the demo dataset and its LDM pretraining corpus from scikit-learn's digits."""
    output:
        dataset=directory(dataset_dir(registry.DEMO)),
        pretrain=directory(DEMO_PRETRAIN),
    params:
        descriptions=lambda wc: settings(registry.DEMO)["descriptions"],
        prompt_template=lambda wc: settings(registry.DEMO)["prompt_template"],
        options=config["demo_digits"],
    log:
        f"{LOGS}/data/make_demo_digits.log",
    benchmark:
        f"{BENCH}/data/make_demo_digits.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/make_demo_digits.py"


rule split_dataset:
    """List, verify and split one dataset into the image table every later stage reads."""
    input:
        lambda wc: dataset_ready(wc.dataset),
    output:
        split_table("{dataset}"),
    params:
        root=DATA_ROOT,
        domains=lambda wc: list(domains(wc.dataset)),
        holdout_fraction=config["split"]["holdout_fraction"],
        seed=config["split"]["seed"],
    log:
        f"{LOGS}/data/split_{{dataset}}.log",
    benchmark:
        f"{BENCH}/data/split_{{dataset}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/split_dataset.py"
