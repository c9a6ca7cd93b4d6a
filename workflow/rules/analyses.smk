# Stage 6: the paper's analyses of the selected models (training-domain validation), and
# the data-scaling figure. Per-model (or per dataset and test domain) jobs write under
# results/analyses/; one summary rule per analysis gathers results/summary/<analysis>.csv and
# its figures. Each job gets only its own config sub-section, so editing one analysis's
# settings reruns that analysis alone; its batch_size (images per forward pass) reruns nothing.


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
        settings=without(config["analyses"]["adversarial"], "batch_size"),
        resolution=config["training"]["resolution"],
    threads: config["analyses"]["threads"]
    log:
        f"{LOGS}/analyses/adversarial/{ANALYSIS_RUN}.log",
    benchmark:
        f"{BENCH}/analyses/adversarial_{{dataset}}_{{method}}_{{test_env}}_scale{{level}}_trial{{trial}}.tsv"
    conda:
        CONDA_ENV
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
        settings=without(config["analyses"]["landscape"], "batch_size"),
        resolution=config["training"]["resolution"],
    threads: config["analyses"]["threads"]
    log:
        f"{LOGS}/analyses/landscape/{ANALYSIS_RUN}.log",
    benchmark:
        f"{BENCH}/analyses/landscape_{{dataset}}_{{method}}_{{test_env}}_scale{{level}}_trial{{trial}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_landscape.py"


rule shift:
    """Transferability and diversity/correlation shift, training domains -> test domain, per model."""
    input:
        models=lambda wc: [selected_model_file(**r) for r in analysed_runs(wc.dataset, wc.test_env)],
        split=lambda wc: split_table(wc.dataset),
    output:
        f"{ANALYSES}/shift/{{dataset}}/{{test_env}}.csv",
    params:
        runs=lambda wc: analysed_runs(wc.dataset, wc.test_env),
        settings=without(config["analyses"]["shift"], "batch_size"),
        resolution=config["training"]["resolution"],
    threads: config["analyses"]["threads"]
    log:
        f"{LOGS}/analyses/shift/{{dataset}}/{{test_env}}.log",
    benchmark:
        f"{BENCH}/analyses/shift_{{dataset}}_{{test_env}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_shift.py"


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
        settings=without(config["analyses"]["tsne"], "batch_size"),
        synthetic_method=lambda wc: tsne_synthetic_method(wc.dataset),
        resolution=config["training"]["resolution"],
    threads: config["analyses"]["threads"]
    log:
        f"{LOGS}/analyses/tsne/{{dataset}}/{{test_env}}.log",
    benchmark:
        f"{BENCH}/analyses/tsne_{{dataset}}_{{test_env}}.tsv"
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
    script:
        "../scripts/summarize_analysis.py"
