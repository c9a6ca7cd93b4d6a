"""cdga.core.layout: one path per artifact, wildcard templates from the same functions."""

import re
import subprocess
import sys

import pytest

from cdga.core import layout


def test_shard_and_manifest_are_one_swap():
    tar = layout.synthetic_shard("DemoDigits", "pg", "photo", "sketch", 1, 2)
    assert tar == "results/synthetic/DemoDigits/pg/photo--sketch/rep1/shard2.tar"
    assert layout.synthetic_manifest("DemoDigits", "pg", "photo", "sketch", 1, 2) == tar[:-4] + ".csv"
    assert layout.tar_of(layout.manifest_of(tar)) == tar
    with pytest.raises(ValueError, match="not a shard tar"):
        layout.manifest_of("x.csv")
    with pytest.raises(ValueError, match="not a shard manifest"):
        layout.tar_of("x.tar")


def test_templates_are_the_paths_with_placeholders():
    template = layout.run_records("{dataset}", "{method}", "{test_env}", "{level}", "{trial}", "{draw}")
    constraints = {"level": "[0-9]+", "trial": "[0-9]+", "draw": "(_hparams[1-9][0-9]*)?"}
    pattern = re.sub(r"\\\{(\w+)\\\}",
                     lambda m: f"(?P<{m[1]}>{constraints.get(m[1], '[^/]+')})",
                     re.escape(template)) + "$"
    path = layout.run_records("Demo Digits", "cdga_pg", "art", 2, 0, layout.draw_part(3))
    assert re.match(pattern, path).groupdict() == {
        "dataset": "Demo Digits", "method": "cdga_pg", "test_env": "art", "level": "2",
        "trial": "0", "draw": "_hparams3"}


def test_runs_draws_and_models():
    assert layout.run_dir("D", "erm", "a", 0, 1) == "results/train/D/erm/a/scale0/trial1"
    assert layout.draw_part(0) == "" and layout.draw_seed(layout.draw_part(7)) == 7
    assert layout.run_model("D", "erm", "a", 0, 1).endswith("trial1/model_training_domain.pt")
    assert layout.run_model("D", "erm", "a", 0, 1, selection="oracle").endswith("model_oracle.pt")
    with pytest.raises(ValueError, match="unknown model selection 'best'"):
        layout.run_model("D", "erm", "a", 0, 1, selection="best")


def test_every_artifact_kind_lies_under_results_and_is_distinct():
    paths = [
        layout.prepared_marker("D"), layout.split_table("D"), layout.demo_ldm(),
        layout.demo_ldm_work(), layout.synthetic_shard("D", "pg", "a", "b", 0, 0),
        layout.synthetic_manifest("D", "pg", "a", "b", 0, 0), *layout.generation_quality("D").values(),
        *layout.filter_scorer("D", "a").values(), layout.filter_decisions("D", "pg", "a"),
        layout.assembly_manifest("D", "erm", "a", 0), layout.run_records("D", "erm", "a", 0, 0),
        layout.run_model("D", "erm", "a", 0, 0), layout.analysis_output("adversarial", dataset="D", method="erm", test_env="a", level=0, trial=0),
        layout.analysis_output("shift", dataset="D", test_env="a"),
        layout.analysis_figure("tsne", "pdf", dataset="D", test_env="a"), layout.summary("accuracy", "md"),
        layout.figure("scaling", "pdf"), layout.report(), layout.log("train", dataset="D"),
        layout.benchmark("train", dataset="D"),
    ]
    assert all(p.startswith(layout.RESULTS + "/") for p in paths)
    assert len(set(paths)) == len(paths)
    assert layout.dataset_dir("data root", "D") == "data root/D"


def test_logs_and_benchmarks_derive_from_rule_and_wildcards():
    wc = {"dataset": "D", "method": "erm", "test_env": "a", "level": 2, "trial": 0, "draw": "_hparams1"}
    assert layout.log("train", **wc) == "results/logs/train/D/erm/a/scale2/trial0_hparams1.log"
    assert layout.benchmark("train", **wc) == "results/benchmarks/train/D/erm/a/scale2/trial0_hparams1.tsv"
    assert layout.log("tables") == "results/logs/tables.log"
    # distinct jobs of one rule get distinct logs; templates keep the wildcards
    assert layout.log("generate", rep=0, shard=1) != layout.log("generate", rep=1, shard=0)
    assert layout.log("split_dataset", dataset="{dataset}") == "results/logs/split_dataset/{dataset}.log"


def test_layout_is_torch_free():
    code = "import sys, cdga.core.layout; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_analysis_outputs_per_model_and_per_domain():
    run = {"dataset": "D", "method": "erm", "test_env": "a", "level": 1, "trial": 0}
    assert (layout.analysis_output("landscape", "_surface.csv", **run)
            == "results/analyses/landscape/D/erm/a/scale1/trial0_surface.csv")
    assert layout.analysis_output("shift", dataset="D", test_env="a") == "results/analyses/shift/D/a.csv"
    assert layout.analysis_figure("tsne", dataset="D", test_env="a") == "results/summary/figures/tsne_D_a.png"
