# Stage 4: DomainBed-protocol training, one job per (dataset, method, test domain, level, trial,
# hyperparameter draw). The defaults' run has no draw part; draw k (training.hparam_draws) adds
# _hparams<k> to the run directory (cdga.core.layout: draw_part).

RUN = wildcards_of("dataset", "method", "test_env", "level", "trial", "draw")


wildcard_constraints:
    trial="[0-9]+",
    draw="(_hparams[1-9][0-9]*)?",


rule train:
    """Train and evaluate one run; keep the models chosen by each model-selection rule
    (training-domain validation's best checkpoint, the oracle's last one)."""
    input:
        lambda wc: layout.assembly_manifest(wc.dataset, wc.method, wc.test_env, wc.level),
    output:
        results=layout.run_records(**RUN),
        **{s: layout.run_model(**RUN, selection=s) for s in layout.SELECTIONS},
    params:
        training=lambda wc: PLAN.training_params(wc.dataset, wc.method, wc.trial, wc.draw),
        hparams_seed=lambda wc: layout.draw_seed(wc.draw),
        holdout_fraction=config["split"]["holdout_fraction"],  # recorded for DomainBed
    threads: config["training"]["threads"]
    log:
        layout.log("train", **RUN),
    benchmark:
        layout.benchmark("train", **RUN)
    conda:
        CONDA_ENV
    script:
        "../scripts/train.py"
