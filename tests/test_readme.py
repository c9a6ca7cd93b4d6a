"""The README as a newcomer reads it: short, its two commands first and the ones CI and the demo
use, its headline table rendered from a committed results file, and every link resolving."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import REPO
from study import planned_jobs, workflow_rules

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, REPO / "config" / "README.md", *DOCS]
DEMO_COMMAND = 'pip install -e ".[dev]" && snakemake --cores 2 && snakemake --report results/report.html'
TEST_COMMAND = 'pip install -e ".[dev]" && python -m pytest'
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
RESULTS_FILE = re.compile(r"benchmarks/results/[\w./-]*\w")


def lines() -> list[str]:
    return README.read_text().splitlines()


def line_of(text: str) -> int:
    """1-based number of the README line that is exactly ``text``."""
    return lines().index(text) + 1


def table_at(rows: list[str], start: int) -> list[str]:
    """The Markdown table whose header row is rows[start], up to its last row."""
    end = start
    while end < len(rows) and rows[end].startswith("|"):
        end += 1
    return rows[start:end]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    assert len(lines()) <= 200
    assert line_of(DEMO_COMMAND) <= 30 and line_of(TEST_COMMAND) <= 30


def test_the_test_command_is_what_ci_runs() -> None:
    commands = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#")
                and not line.startswith(("set ", "cd "))]
    assert commands == [TEST_COMMAND]


def test_the_demo_command_runs_the_default_config_and_builds_the_report(tmp_path: Path) -> None:
    steps = [shlex.split(step) for step in DEMO_COMMAND.split("&&")]
    assert steps[0] == ["pip", "install", "-e", ".[dev]"]
    assert steps[1] == ["snakemake", "--cores", "2"]  # no --configfile: config/config.yaml
    assert steps[2] == ["snakemake", "--report", "results/report.html"]
    # the default config is the demo, and the demo runs every rule but the real datasets' downloads
    jobs = planned_jobs(tmp_path, configs=(REPO / "config" / "config.yaml",))
    expected = {r for r in workflow_rules(tmp_path) if not r.startswith("prepare_")}
    assert set(jobs) == expected
    assert jobs["train"] == 4 * 5 * 2  # four test domains, five methods, two trials


def test_headline_table_is_the_committed_results_file() -> None:
    rows = lines()
    header = next(i for i, row in enumerate(rows) if row.startswith("| method | photo |"))
    assert header + 1 <= 80
    source = re.findall(r"\((benchmarks/results/[^)]*accuracy[^)]*\.md)\)", "\n".join(rows[:header]))
    assert source, "the headline table names no results file above it"
    committed = (REPO / source[-1]).read_text().splitlines()
    start = next(i for i, row in enumerate(committed) if row.startswith("| method | photo |"))
    assert table_at(rows, header) == table_at(committed, start)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    text = page.read_text()
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: link {target} does not resolve"
        if anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(), re.MULTILINE)
            assert anchor in {slug(h) for h in headings}, f"{page.name}: no heading #{anchor}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_named_results_file_exists(page: Path) -> None:
    for name in RESULTS_FILE.findall(page.read_text()):
        assert (REPO / name).exists(), f"{page.name} names {name}, which is not committed"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(REPO / target.partition("#")[0]).resolve() for target in LINK.findall(README.read_text())}
    assert DOCS and not [page.name for page in DOCS if page.resolve() not in linked]
