# Stage 4: DomainBed-protocol training, one job per (dataset, method, test domain, level, trial).


wildcard_constraints:
    trial="[0-9]+",


rule train:
    """Train and evaluate one run; keep the models chosen by each model-selection rule
    (training-domain validation's best checkpoint, the oracle's last one)."""
    input:
        lambda wc: assembly_manifest(wc.dataset, wc.method, wc.test_env, wc.level),
    output:
        results=f"{train_dir('{dataset}', '{method}', '{test_env}', '{level}', '{trial}')}/results.jsonl",
        training_domain=f"{train_dir('{dataset}', '{method}', '{test_env}', '{level}', '{trial}')}/model_training_domain.pt",
        oracle=f"{train_dir('{dataset}', '{method}', '{test_env}', '{level}', '{trial}')}/model_oracle.pt",
    params:
        training=lambda wc: training_params(wc.dataset),
        holdout_fraction=config["split"]["holdout_fraction"],  # recorded for DomainBed
        num_workers=config["training"]["num_workers"],
    threads: config["training"]["threads"]
    log:
        f"{LOGS}/train/{{dataset}}/{{method}}/{{test_env}}/scale{{level}}/trial{{trial}}.log",
    benchmark:
        f"{BENCH}/train/train_{{dataset}}_{{method}}_{{test_env}}_scale{{level}}_trial{{trial}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/train.py"
