# Stage 6: the paper's analyses of the selected models (training-domain validation), and
# the data-scaling figure. Per-model (or per dataset and test domain) jobs write under
# results/analyses/; one summary rule per analysis gathers results/summary/<analysis>.csv and
# its figures. Each job gets only its own config sub-section, so editing one analysis's
# settings reruns that analysis alone.
from cdga import methods

ANALYSES = f"{RESULTS}/analyses"
FIGURES = f"{RESULTS}/summary/figures"
ANALYSIS_RUN = "{dataset}/{method}/{test_env}/scale{level}/trial{trial}"


def selected_model(wildcards):
    return f"{train_dir(**dict(wildcards.items()))}/model_training_domain.pt"


def analysed_runs(dataset=None, test_env=None):
    """Wildcard dicts of the analysed models: analyses.methods x test domains x first trials."""
    cfg = config["analyses"]
    return [
        dict(dataset=ds, method=m, test_env=t, level=main_level(m), trial=k)
        for ds in config["datasets"]
        if dataset in (None, ds)
        for m in cfg["methods"]
        if m in config["methods"] and methods.runs_on(m, settings(ds)["variants"])
        for t in settings(ds)["test_envs"]
        if test_env in (None, t)
        for k in range(min(cfg["trials"], config["training"]["trials"]))
    ]


def analysis_outputs(analysis, suffix=".csv", **where):
    return [f"{ANALYSES}/{analysis}/{ANALYSIS_RUN.format(**r)}{suffix}" for r in analysed_runs(**where)]


def test_env_pairs():
    return [(ds, t) for ds in config["datasets"] for t in settings(ds)["test_envs"]]


def figure(stem, caption, subcategory):
    """PNG (in the report) and PDF of one summary figure."""
    png = report(f"{FIGURES}/{stem}.png", caption=f"../report/{caption}.rst",
                 category="Analyses", subcategory=subcategory)
    return [png, f"{FIGURES}/{stem}.pdf"]


def summary_table(name, caption, subcategory):
    table = report(f"{RESULTS}/summary/{name}.csv", caption=f"../report/{caption}.rst",
                   category="Analyses", subcategory=subcategory)
    return table


TARGETS += [f"{RESULTS}/summary/{name}.csv" for name in ("adversarial", "landscape", "shift")]
TARGETS += [f"{FIGURES}/scaling.png"]
TARGETS += [f"{FIGURES}/tsne_{ds}_{t}.png" for ds, t in test_env_pairs()]


rule adversarial:
    """FGSM and PGD accuracy of one selected model on its test domain."""
    input:
        model=selected_model,
        split=lambda wc: split_table(wc.dataset),
    output:
        f"{ANALYSES}/adversarial/{ANALYSIS_RUN}.csv",
    params:
        settings=config["analyses"]["adversarial"],
        resolution=config["training"]["resolution"],
    log:
        f"{LOGS}/analyses/adversarial/{ANALYSIS_RUN}.log",
    benchmark:
        f"{BENCH}/analyses/adversarial_{{dataset}}_{{method}}_{{test_env}}_scale{{level}}_trial{{trial}}.tsv"
    script:
        "../scripts/analysis_adversarial.py"


rule landscape:
    """1-D/2-D loss surfaces and sharpness of one selected model, on training- and test-domain data."""
    input:
        model=selected_model,
        split=lambda wc: split_table(wc.dataset),
    output:
        summary=f"{ANALYSES}/landscape/{ANALYSIS_RUN}.csv",
        surface=f"{ANALYSES}/landscape/{ANALYSIS_RUN}_surface.csv",
    params:
        settings=config["analyses"]["landscape"],
        resolution=config["training"]["resolution"],
    log:
        f"{LOGS}/analyses/landscape/{ANALYSIS_RUN}.log",
    benchmark:
        f"{BENCH}/analyses/landscape_{{dataset}}_{{method}}_{{test_env}}_scale{{level}}_trial{{trial}}.tsv"
    script:
        "../scripts/analysis_landscape.py"


rule shift:
    """Transferability and diversity/correlation shift, training domains -> test domain, per model."""
    input:
        models=lambda wc: [f"{train_dir(**r)}/model_training_domain.pt"
                           for r in analysed_runs(wc.dataset, wc.test_env)],
        split=lambda wc: split_table(wc.dataset),
    output:
        f"{ANALYSES}/shift/{{dataset}}/{{test_env}}.csv",
    params:
        runs=lambda wc: analysed_runs(wc.dataset, wc.test_env),
        settings=config["analyses"]["shift"],
        resolution=config["training"]["resolution"],
    log:
        f"{LOGS}/analyses/shift/{{dataset}}/{{test_env}}.log",
    benchmark:
        f"{BENCH}/analyses/shift_{{dataset}}_{{test_env}}.tsv"
    script:
        "../scripts/analysis_shift.py"


def tsne_synthetic_method(dataset):
    """The first of analyses.tsne.synthetic_methods that the dataset's variants allow."""
    return methods.first_runnable(config["analyses"]["tsne"]["synthetic_methods"], settings(dataset)["variants"])


def tsne_inputs(wildcards):
    cfg = config["analyses"]["tsne"]
    synth = tsne_synthetic_method(wildcards.dataset)
    return {
        "model": f"{train_dir(wildcards.dataset, cfg['method'], wildcards.test_env, main_level(cfg['method']), 0)}"
        "/model_training_domain.pt",
        "split": split_table(wildcards.dataset),
        "assembly": assembly_manifest(wildcards.dataset, synth, wildcards.test_env, main_level(synth)),
    }


rule tsne:
    """t-SNE of penultimate features: real images by domain, the training set's synthetic images by pair."""
    input:
        unpack(tsne_inputs),
    output:
        points=f"{ANALYSES}/tsne/{{dataset}}/{{test_env}}.csv",
        png=report(f"{FIGURES}/tsne_{{dataset}}_{{test_env}}.png", caption="../report/tsne.rst",
                   category="Analyses", subcategory="t-SNE"),
        pdf=f"{FIGURES}/tsne_{{dataset}}_{{test_env}}.pdf",
    params:
        settings=config["analyses"]["tsne"],
        synthetic_method=lambda wc: tsne_synthetic_method(wc.dataset),
        resolution=config["training"]["resolution"],
    log:
        f"{LOGS}/analyses/tsne/{{dataset}}/{{test_env}}.log",
    benchmark:
        f"{BENCH}/analyses/tsne_{{dataset}}_{{test_env}}.tsv"
    script:
        "../scripts/analysis_tsne.py"


rule summarize_adversarial:
    """results/summary/adversarial.csv and the accuracy-against-eps figure."""
    input:
        analysis_outputs("adversarial"),
    output:
        table=summary_table("adversarial", "adversarial", "Adversarial robustness"),
        figure=figure("adversarial", "adversarial_figure", "Adversarial robustness"),
    params:
        methods=config["analyses"]["methods"],
    log:
        f"{LOGS}/analyses/summarize_adversarial.log",
    benchmark:
        f"{BENCH}/analyses/summarize_adversarial.tsv"
    script:
        "../scripts/summarize_analysis.py"


rule summarize_landscape:
    """results/summary/landscape.csv, 1-D loss curves and 2-D contours."""
    input:
        summaries=analysis_outputs("landscape"),
        surfaces=analysis_outputs("landscape", "_surface.csv"),
    output:
        table=summary_table("landscape", "landscape", "Loss landscape"),
        curves=figure("landscape_1d", "landscape_1d", "Loss landscape"),
        contours=figure("landscape_2d", "landscape_2d", "Loss landscape"),
    params:
        methods=config["analyses"]["methods"],
    log:
        f"{LOGS}/analyses/summarize_landscape.log",
    benchmark:
        f"{BENCH}/analyses/summarize_landscape.tsv"
    script:
        "../scripts/summarize_analysis.py"


rule summarize_shift:
    """results/summary/shift.csv and its figure."""
    input:
        [f"{ANALYSES}/shift/{ds}/{t}.csv" for ds, t in test_env_pairs()],
    output:
        table=summary_table("shift", "shift", "Domain shift"),
        figure=figure("shift", "shift_figure", "Domain shift"),
    params:
        methods=config["analyses"]["methods"],
    log:
        f"{LOGS}/analyses/summarize_shift.log",
    benchmark:
        f"{BENCH}/analyses/summarize_shift.tsv"
    script:
        "../scripts/summarize_analysis.py"


rule scaling_figure:
    """The data-scaling figure from results/summary/scaling.csv (written by rule tables)."""
    input:
        f"{RESULTS}/summary/scaling.csv",
    output:
        figure=figure("scaling", "scaling_figure", "Data scaling"),
    params:
        methods=["erm", *config["scaling"]["methods"]],
    log:
        f"{LOGS}/analyses/scaling_figure.log",
    benchmark:
        f"{BENCH}/analyses/scaling_figure.tsv"
    script:
        "../scripts/summarize_analysis.py"
