"""Shared fixtures: a small DomainBed-layout dataset on disk, the repository paths, one
finished test-config study and one finished paper-shaped study (defined here, not imported
into modules, so each is built once)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

torch.set_num_threads(1)


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """root/Toy/{a,b,c}/{cat,dog}/ with 5 PNGs each (tests/toy_dataset.py); returns root."""
    from toy_dataset import toy_dataset

    return toy_dataset(tmp_path)


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory in which `snakemake --configfile config/test.yaml` has finished."""
    from study import run

    workdir = tmp_path_factory.mktemp("study")
    run(workdir)
    return workdir


@pytest.fixture(scope="session")
def paper_study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The paper-shaped study (tests/paper_study.py) run to the end and its report built:
    the working directory, config files, the run's log and a later dry run's output."""
    from paper_study import build
    from study import run

    root = tmp_path_factory.mktemp("paper_study")
    configs = build(root / "build")
    work = root / "work"
    work.mkdir()
    done = run(work, configs=configs)
    run(work, "--report", "results/report.html", configs=configs)
    rerun = run(work, "-n", configs=configs)
    return {"workdir": work, "configs": configs, "log": done.stderr, "rerun": rerun.stderr + rerun.stdout}


# The suite runs on two pytest-xdist workers (pyproject: -n 2 --dist loadgroup): most tests use
# one core, and the studies' jobs leave a core idle between them. Tests that share an expensive
# session fixture run on one worker, so each study is built once; the SLURM module's tests share
# its one cluster (and compare with the finished test study).
STUDY_GROUPS = {"finished_study": "finished_study", "paper_study": "paper_study",
                "cluster": "finished_study"}
MODULE_GROUPS = {"test_slurm_integration.py": "finished_study"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        groups = {g for f, g in STUDY_GROUPS.items() if f in getattr(item, "fixturenames", ())}
        if item.path.name in MODULE_GROUPS:
            groups.add(MODULE_GROUPS[item.path.name])
        if len(groups) > 1:
            raise pytest.UsageError(f"{item.nodeid} uses two studies: {sorted(groups)}; give them one worker group")
        if groups:
            item.add_marker(pytest.mark.xdist_group(groups.pop()))
