# Stage 4: DomainBed-protocol training, one job per (dataset, method, test domain, level, trial,
# hyperparameter draw). The defaults' run has no draw part; draw k (training.hparam_draws) adds
# _hparams<k> to the run directory.

RUN = train_dir("{dataset}", "{method}", "{test_env}", "{level}", "{trial}", "{draw}")


wildcard_constraints:
    trial="[0-9]+",
    draw="(_hparams[1-9][0-9]*)?",


rule train:
    """Train and evaluate one run; keep the models chosen by each model-selection rule
    (training-domain validation's best checkpoint, the oracle's last one)."""
    input:
        lambda wc: assembly_manifest(wc.dataset, wc.method, wc.test_env, wc.level),
    output:
        results=f"{RUN}/results.jsonl",
        training_domain=f"{RUN}/model_training_domain.pt",
        oracle=f"{RUN}/model_oracle.pt",
    params:
        training=training_params,
        hparams_seed=lambda wc: draw_seed(wc.draw),
        holdout_fraction=config["split"]["holdout_fraction"],  # recorded for DomainBed
    threads: config["training"]["threads"]
    log:
        f"{LOGS}/train/{{dataset}}/{{method}}/{{test_env}}/scale{{level}}/trial{{trial}}{{draw}}.log",
    benchmark:
        f"{BENCH}/train/train_{{dataset}}_{{method}}_{{test_env}}_scale{{level}}_trial{{trial}}{{draw}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/train.py"
