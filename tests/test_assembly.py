"""Assembly of a training job's manifest and the test-domain leakage guard."""

from pathlib import Path

import pandas as pd
import pytest
from synthetic_shards import make_pairs
from toy_dataset import split_table

from cdga.core import methods
from cdga.training import assembly

DOMAINS = ["a", "b", "c"]


@pytest.fixture
def setup(tiny_dataset: Path) -> tuple[Path, pd.DataFrame]:
    return tiny_dataset, split_table(tiny_dataset)


def cdga_manifest(root: Path, table: pd.DataFrame, level: int = 1, test_env: str = "c"):
    pairs = methods.synthetic_pairs("cdga_ig", DOMAINS, test_env)
    synthetic = assembly.read_synthetic(make_pairs(root, table, "Toy", "ig", pairs, level))
    return assembly.assemble(table, test_env, synthetic, pairs, "ig", level), synthetic


def test_roles_and_synthetic_rows(setup) -> None:
    root, table = setup
    manifest, synthetic = cdga_manifest(root, table, level=2)
    roles = manifest.groupby(["role", "origin"]).size().to_dict()
    train_real = ((table["domain"] != "c") & (table["split"] == "train")).sum()
    assert roles == {("train", "real"): train_real, ("train", "synthetic"): len(synthetic),
                     ("val", "real"): ((table["domain"] != "c") & (table["split"] == "val")).sum(),
                     ("test", "real"): (table["domain"] == "c").sum()}
    train = manifest[manifest["role"] == "train"]
    assert "c" not in set(train["domain"]) | set(train["source_domain"]) | set(
        train["target_domain"])
    syn = train[train["origin"] == "synthetic"]
    assert set(zip(syn["source_domain"], syn["target_domain"])) == {("a", "b"), ("b", "a")}
    assert sorted(set(syn["rep"])) == [0, 1]
    assert (syn["domain"] == syn["target_domain"]).all() and syn["shard"].str.endswith(".tar").all()
    # every test-domain image is present for evaluation, none as training data
    assert set(manifest.loc[manifest["role"] == "test", "path"]) == set(
        table.loc[table["domain"] == "c", "path"])


def test_wrong_pairs_variant_or_level_rejected(setup) -> None:
    root, table = setup
    pairs = [("a", "b"), ("b", "a")]
    synthetic = assembly.read_synthetic(make_pairs(root, table, "Toy", "ig", pairs, 2))
    with pytest.raises(assembly.ManifestError, match="rep >= scale level 1"):
        assembly.assemble(table, "c", synthetic, pairs, "ig", 1)
    with pytest.raises(assembly.ManifestError, match="expected 'pg'"):
        assembly.assemble(table, "c", synthetic, pairs, "pg", 2)
    with pytest.raises(assembly.ManifestError, match=r"not used by this job"):
        assembly.assemble(table, "c", synthetic, [("a", "b")], "ig", 2)
    with pytest.raises(assembly.LeakageError, match="involve the test domain"):
        assembly.assemble(table, "c", synthetic, [("a", "c")], "ig", 2)


def test_malformed_synthetic_manifest_names_file(setup, tmp_path: Path) -> None:
    bad = tmp_path / "shard0.csv"
    pd.DataFrame({"member": ["x.png"]}).to_csv(bad, index=False)
    with pytest.raises(assembly.ManifestError, match=r"shard0\.csv.*lacks column"):
        assembly.read_synthetic([bad])


def _poison(manifest: pd.DataFrame, table: pd.DataFrame, column: str, domain: str,
            split: str = "train") -> pd.DataFrame:
    """Point the first synthetic training row's ``column`` at an image of ``domain``."""
    bad = manifest.copy()
    row = bad.index[(bad["origin"] == "synthetic")][0]
    victim = table[(table["domain"] == domain) & (table["split"] == split)]["path"].iloc[0]
    bad.loc[row, column] = victim
    return bad


def test_leakage_guard_catches_poisoned_manifests(setup) -> None:
    root, table = setup
    manifest, _ = cdga_manifest(root, table)
    assembly.check_no_leakage(manifest, table, "c")  # the clean manifest passes

    cases = {
        "source image in test domain": _poison(manifest, table, "source_path", "c"),
        "guide image in test domain": _poison(manifest, table, "guide_path", "c"),
        "source image from a validation split": _poison(manifest, table, "source_path", "a",
                                                        "val"),
    }
    target = manifest.copy()
    target.loc[target.index[target["origin"] == "synthetic"][0], "target_domain"] = "c"
    cases["target_domain == test domain"] = target
    real = manifest.copy()
    test_row = real.index[real["role"] == "test"][0]
    real.loc[test_row, "role"] = "train"  # a test-domain image used for training
    cases["real image in test domain"] = real
    for message, bad in cases.items():
        with pytest.raises(assembly.LeakageError, match=message):
            assembly.check_no_leakage(bad, table, "c")


def test_leakage_guard_judges_domains_by_split_table_not_names(setup) -> None:
    root, table = setup
    manifest, _ = cdga_manifest(root, table)
    # a guide path spelled differently (./ segments) but naming a test-domain file
    victim = table[(table["domain"] == "c") & (table["split"] == "train")]["path"].iloc[0]
    disguised = victim.replace("/Toy/", "/Toy/./")
    bad = manifest.copy()
    bad.loc[bad.index[bad["origin"] == "synthetic"][0], "guide_path"] = disguised
    with pytest.raises(assembly.LeakageError, match="guide image in test domain"):
        assembly.check_no_leakage(bad, table, "c")
    # a source the split table does not know cannot be cleared
    unknown = manifest.copy()
    unknown.loc[unknown.index[unknown["origin"] == "synthetic"][0], "source_path"] = "/x/a/1.png"
    with pytest.raises(assembly.LeakageError, match="not in the split table"):
        assembly.check_no_leakage(unknown, table, "c")
    # the manifest's domain column is not trusted: a test-domain image labelled 'a' is caught
    relabelled = manifest.copy()
    row = relabelled.index[relabelled["path"] == victim][0]
    relabelled.loc[row, ["role", "domain"]] = ["train", "a"]
    with pytest.raises(assembly.LeakageError, match="real image in test domain 'c'"):
        assembly.check_no_leakage(relabelled, table, "c")
