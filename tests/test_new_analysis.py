"""A new analysis written here as one class plus its config block (a plugin file, config key
``plugins``): its rule, summary and report caption come from the class, and it runs through the
study's DAG on the test config into its summary table, its figure and the HTML report."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from study import TEST_CONFIG, planned_jobs, run

from cdga import config, plan
from cdga.analyses import registry as analysis
from cdga.core import execution, layout, plugins

CONFIDENCE = '''
"""Mean top-class probability and accuracy of one selected model on its test domain."""
from cdga.analyses import registry as analysis


@analysis.register
class Confidence(analysis.Analysis):
    name = "confidence"
    gpu = False
    subcategory = "Confidence"
    SCHEMA = {"type": "object", "additionalProperties": False,
              "required": ["images", "batch_size", "seed"],
              "properties": {"images": {"type": "integer", "minimum": 1},
                             "batch_size": {"type": "integer", "minimum": 1},
                             "seed": {"type": "integer", "minimum": 0}}}
    caption = "CONFIDENCE-CAPTION: the mean top-class probability of each selected model."
    figures = {"confidence": "CONFIDENCE-FIGURE: mean confidence per method."}

    @classmethod
    def run(cls, job, log):
        import pandas as pd
        import torch

        from cdga.core import io
        from cdga.analyses import probe

        dev, cfg, batch_size = analysis.context(job, cls.name)
        rows = probe.real_rows(pd.read_csv(job.input.split), [job.wildcards.test_env], None)
        rows = probe.sample(rows, cfg["images"], cfg["seed"])
        model = probe.pixel_model(job.input.model, dev)
        top, right = [], []
        with torch.no_grad():
            for x, y in probe.load(rows, job.params.resolution, batch_size, dev):
                p = model(x).softmax(1)
                top.append(p.max(1).values)
                right.append(p.argmax(1) == y)
        row = {k: job.wildcards[k] for k in ("dataset", "method", "test_env", "level", "trial")}
        row |= {"images": len(rows), "confidence": float(torch.cat(top).mean()),
                "acc": float(torch.cat(right).float().mean())}
        io.write_csv(job.output.table, pd.DataFrame([row]))

    @classmethod
    def summarize(cls, tables, methods):
        import matplotlib.pyplot as plt

        table = tables["table"]
        fig, ax = plt.subplots()
        means = table.groupby("method")["confidence"].mean().reindex(methods).dropna()
        ax.bar(means.index, means.to_numpy())
        return table, {"confidence": fig}
'''
BLOCK = {"images": 8, "batch_size": 4, "seed": 0}


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    (tmp_path / "confidence.py").write_text(CONFIDENCE)
    path = tmp_path / "confidence.yaml"
    path.write_text(yaml.safe_dump({
        "plugins": [str(tmp_path / "confidence.py")], "methods": ["erm"],
        "analyses": {"methods": ["erm"], "confidence": BLOCK}}))
    return path


def test_the_class_is_the_analysis(overlay: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "ANALYSES", dict(analysis.ANALYSES))
    monkeypatch.setattr(execution, "EXECUTION", dict(execution.EXECUTION))
    try:
        plugins.load([str(overlay.parent / "confidence.py")])
        spec = analysis.get("confidence")
        assert execution.keys("analyses.confidence") == ("batch_size",)
        assert "confidence" not in plan.gpu_rules()  # gpu = False: no GPU in either profile
        schema = config.load_schema(Path(__file__).resolve().parents[1] / "workflow" / "schemas"
                                    / "config.schema.yaml")
        assert schema["properties"]["analyses"]["properties"]["confidence"] == spec.SCHEMA
        assert "confidence" in schema["properties"]["analyses"]["required"]
    finally:
        sys.modules.pop("cdga_plugin_confidence", None)


def test_a_new_analysis_runs_through_the_dag_into_summary_and_report(tmp_path: Path,
                                                                      overlay: Path) -> None:
    configs = (TEST_CONFIG, overlay)
    summary = layout.summary("confidence")
    jobs = planned_jobs(tmp_path, summary, configs=configs)
    assert jobs["confidence"] == 1 and jobs["summarize_confidence"] == 1  # erm, photo, trial 0
    run(tmp_path, summary, configs=configs)
    table = pd.read_csv(tmp_path / summary)
    assert list(table["method"]) == ["erm"] and (table["images"] == BLOCK["images"]).all()
    assert table["confidence"].between(0.1, 1).all() and table["acc"].between(0, 1).all()
    for ext in ("png", "pdf"):
        assert (tmp_path / layout.figure("confidence", ext)).stat().st_size > 0
    assert (tmp_path / layout.log("summarize_confidence")).is_file()

    # its batch size is an execution setting; its images are what it computes on
    def edited(**block):
        path = tmp_path / "edit.yaml"
        path.write_text(yaml.safe_dump({"analyses": {"confidence": {**BLOCK, **block}}}))
        return planned_jobs(tmp_path, summary, configs=(*configs, path))

    assert edited(batch_size=2) == {}
    assert edited(images=6) == {"confidence": 1, "summarize_confidence": 1}

    run(tmp_path, "--report", layout.report(), summary, configs=configs)
    html = (tmp_path / layout.report()).read_text()
    assert "CONFIDENCE-CAPTION" in html and "CONFIDENCE-FIGURE" in html
    assert "confidence.csv" in html and "confidence.png" in html
