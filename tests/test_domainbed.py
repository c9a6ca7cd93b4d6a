"""DomainBed's record fields in results.jsonl and the sweep-folder export (cdga.training.domainbed)."""

import json
from pathlib import Path

import numpy as np
import pytest
from study import training_config
from toy_dataset import write_image

from cdga.core.registry import DATASETS
from cdga.data import datasets
from cdga.training import assembly, domainbed, selection, train

ENVS = DATASETS["DemoDigits"].domains  # photo, art_painting, cartoon, sketch: not alphabetical


def domainbed_accuracy(records: list[dict], rule: str) -> float:
    """The test accuracy DomainBed's selection rules give, from DomainBed's fields alone."""
    t = records[0]["args"]["test_envs"][0]
    n = sum(f"env{i}_out_acc" in records[0] for i in range(10))
    if rule == "oracle":
        chosen = max(records, key=lambda r: r["step"])
    else:  # training-domain validation: the best mean out-accuracy of the other environments
        val = [np.mean([r[f"env{i}_out_acc"] for i in range(n) if i != t]) for r in records]
        chosen = records[int(np.argmax(val))]
    return chosen[f"env{t}_in_acc"]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results/train folder: erm on a tiny 'DemoDigits' (test domain cartoon, 2 trials)."""
    root = tmp_path_factory.mktemp("domainbed")
    for d in ENVS:
        for c in ("zero", "one"):
            for k in range(5):
                write_image(root / "DemoDigits" / d / c / f"{k}.png", seed=hash((d, c, k)) % 997)
    manifest = root / "erm.csv"
    assembly.assemble(datasets.index_dataset(root, "DemoDigits", None, 0.2, 0),
                      "cartoon").to_csv(manifest, index=False)
    for trial in (0, 1):
        train.train(manifest, root / "results/train/DemoDigits/erm/cartoon/scale0" / f"trial{trial}",
                    dataset="DemoDigits", method="erm", test_env="cartoon", level=0,
                    trial=trial, cfg=training_config(), holdout_fraction=0.2)
    return root


def test_environments_follow_domainbed_order() -> None:
    assert domainbed.environments("DemoDigits", set(ENVS)) == list(ENVS)
    assert domainbed.environments("Toy", {"c", "a", "b"}) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="DomainBed's environments are"):
        domainbed.environments("PACS", {"art_painting", "cartoon", "photo"})


def test_records_carry_domainbed_fields(study: Path) -> None:
    path = study / "results/train/DemoDigits/erm/cartoon/scale0/trial1/results.jsonl"
    records = domainbed.read_run(path)
    last = records[-1]
    assert last["args"] == {"dataset": "DemoDigits", "algorithm": "erm", "test_envs": [2],
                            "trial_seed": 1, "hparams_seed": 0, "holdout_fraction": 0.2}
    assert set(last["hparams"]) == set(domainbed.HPARAMS)
    assert last["hparams"]["lr"] == training_config()["lr"]
    for i, env in enumerate(ENVS):
        for split in ("in", "out"):
            assert last[f"env{i}_{split}_acc"] == last[selection.acc_key(env, split)]
    assert [r["step"] for r in records] == [0, 2, 4]
    # DomainBed's rules on DomainBed's fields pick what this study's rules pick on its own
    for rule in selection.SELECTIONS:
        assert domainbed_accuracy(records, rule) == selection.reported_accuracy(
            selection.select(records, rule))


def test_reader_names_the_bad_field(tmp_path: Path, study: Path) -> None:
    path = study / "results/train/DemoDigits/erm/cartoon/scale0/trial0/results.jsonl"
    records = selection.read_records(path)
    del records[1]["env3_out_acc"]
    records[1]["args"]["test_envs"] = [7]
    bad = tmp_path / "results.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(ValueError, match=r"results\.jsonl:2: .*'env3_out_acc' is None.*"
                                         r"'args.test_envs' is \[7\]"):
        domainbed.read_run(bad)


def test_export_writes_one_folder_per_run(tmp_path: Path, study: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    runs = study / "results/train"
    # a scaling-level run of a synthetic method: not exported at the default level 1
    other = runs / "DemoDigits/cdga_ig/cartoon/scale2/trial0"
    other.mkdir(parents=True, exist_ok=True)
    records = selection.read_records(runs / "DemoDigits/erm/cartoon/scale0/trial0/results.jsonl")
    other.joinpath("results.jsonl").write_text("".join(
        json.dumps(r | {"method": "cdga_ig", "level": 2}) + "\n" for r in records))
    out = tmp_path / "sweep"
    domainbed.main([str(out), "--train-dir", str(runs)])
    assert "DomainBed does not know dataset(s) ['DemoDigits']" in capsys.readouterr().out
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["DemoDigits_erm_cartoon_scale0_trial0", "DemoDigits_erm_cartoon_scale0_trial1"]
    for folder in out.iterdir():
        assert (folder / "done").read_text() == "done"
        assert domainbed.read_run(folder / "results.jsonl")
    assert len(domainbed.export(runs, tmp_path / "levels", level=2)) == 3
    with pytest.raises(FileExistsError, match="is not empty"):
        domainbed.export(runs, out, level=1)
