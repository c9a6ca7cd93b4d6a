"""One fact in one place: the built-in dataset names and the variant names "pg" / "ig" occur in
the library and the workflow only in their registry entries (rg over src/ and workflow/)."""

from __future__ import annotations

import re

from conftest import REPO

from cdga.core import registry
from cdga.generation import variants

DATASET_NAMES = re.compile(r"\b(" + "|".join(map(re.escape, registry.DATASETS)) + r")\b")
VARIANT_NAMES = re.compile(r"""(["'])(""" + "|".join(map(re.escape, variants.VARIANTS)) + r")\1")
ALLOWED = {
    DATASET_NAMES: {"src/cdga/core/registry.py"},
    VARIANT_NAMES: {"src/cdga/generation/variants.py", "src/cdga/core/methods.py"},  # the variants, the methods
}
# A rule script's first line: editing a rule's script reruns its jobs (Snakemake's code trigger
# is the script's mtime), here the root of the demo study, for a docstring's word.
DOCSTRINGS = {("workflow/scripts/make_demo_digits.py", 1)}


def _hits(pattern: re.Pattern) -> list[str]:
    hits = []
    for path in sorted([*(REPO / "src").rglob("*"), *(REPO / "workflow").rglob("*")]):
        rel = str(path.relative_to(REPO))
        built = any(part.endswith(".egg-info") or part == "__pycache__" for part in path.parts)
        if built or not path.is_file() or path.suffix in {".pyc", ".png"} or rel in ALLOWED[pattern]:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line) and (rel, n) not in DOCSTRINGS:
                hits.append(f"{rel}:{n}: {line.strip()}")
    return hits


def test_the_patterns_find_what_they_look_for() -> None:
    assert DATASET_NAMES.search('Dataset(("location_100",)), "TerraIncognita": x')
    assert not DATASET_NAMES.search("convert_terra_incognita, a PACSlike word")
    assert VARIANT_NAMES.search("if wc.variant == 'pg':") and VARIANT_NAMES.search('("pg", "ig")')
    assert not VARIANT_NAMES.search("cdga_pg, method cdga_ig")


def test_no_library_or_rule_file_names_a_built_in_dataset() -> None:
    assert _hits(DATASET_NAMES) == []


def test_no_library_or_rule_file_tests_a_variant_name() -> None:
    assert _hits(VARIANT_NAMES) == []
