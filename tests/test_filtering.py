"""The filter stage (cdga.filtering.keep, cdga.filtering.scorer): the keep rule on known scores, the
leakage guard over the scorer's training rows, the keep list in assembly, the scorer on real
shards, the shares and the examples figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from synthetic_shards import make_pairs, make_shard
from toy_dataset import split_table

from cdga.core import methods
from cdga.filtering import keep as filtering
from cdga.filtering import scorer
from cdga.report import figures
from cdga.training import assembly

DOMAINS = ["a", "b", "c"]
SCORER = {"backbone": "small_cnn", "resolution": 8, "epochs": 2, "batch_size": 8, "lr": 1e-3,
          "shift": 1, "seed": 0, "max_real_per_domain": None}


def scores(probs: list[float], pairs: list[tuple[str, str]], reps: list[int] | None = None
           ) -> pd.DataFrame:
    """Score rows with the given source-class probabilities, one member each."""
    n = len(probs)
    return pd.DataFrame({"shard": "s.tar", "member": [f"{k:03d}.png" for k in range(n)],
                         "source_domain": [p[0] for p in pairs],
                         "target_domain": [p[1] for p in pairs],
                         "rep": reps or [0] * n, "source_prob": probs})


# ---------------------------------------------------------------- the rule
def test_threshold_keeps_only_probabilities_above_it() -> None:
    frame = scores([0.2, 0.5, 0.51, 0.9, 1.0], [("a", "b")] * 5)
    keep = filtering.decide(frame, {"rule": "threshold", "threshold": 0.5})
    assert keep.tolist() == [False, False, True, True, True]
    assert not filtering.decide(frame, {"rule": "threshold", "threshold": 0.999}).iloc[:4].any()


def test_top_share_keeps_that_share_of_every_pair_and_rep() -> None:
    probs = [0.1, 0.9, 0.5, 0.7, 0.3,   # a->b rep 0: the top 3 of 5 (ceil 0.6 * 5)
             0.2, 0.8,                  # a->b rep 1: ceil(0.6 * 2) = 2, both
             0.6, 0.4, 0.95, 0.05]      # b->a rep 0: ceil(0.6 * 4) = 3 (2.4 up)
    pairs = [("a", "b")] * 7 + [("b", "a")] * 4
    reps = [0] * 5 + [1] * 2 + [0] * 4
    keep = filtering.decide(scores(probs, pairs, reps), {"rule": "top_share", "top_share": 0.6})
    assert keep.tolist() == [False, True, True, True, False, True, True,
                             True, True, True, False]
    # a share whose product is an integer keeps exactly that many (0.7 * 10 is 7.000000000000001)
    ten = scores(list(np.linspace(0.05, 0.95, 10)), [("a", "b")] * 10)
    assert filtering.decide(ten, {"rule": "top_share", "top_share": 0.7}).sum() == 7
    # ties go to the first member, so the decision is the same on every run
    tied = scores([0.5] * 4, [("a", "b")] * 4)
    assert filtering.decide(tied, {"rule": "top_share", "top_share": 0.5}).tolist() == [
        True, True, False, False]


def test_class_share_keeps_that_share_of_every_pair_class_and_rep() -> None:
    """A weak scorer (every probability far below 0.5) still keeps the share of each class."""
    probs = [0.01, 0.04, 0.03, 0.02,   # a->b class 0: the top 2 of 4
             0.001, 0.002,             # a->b class 1: ceil(0.5 * 2) = 1
             0.05,                     # a->b class 2: ceil(0.5 * 1) = 1, never empty
             0.02, 0.01]               # b->a class 0: 1 of 2
    frame = scores(probs, [("a", "b")] * 7 + [("b", "a")] * 2).assign(
        class_index=[0, 0, 0, 0, 1, 1, 2, 0, 0])
    keep = filtering.decide(frame, {"rule": "class_share", "class_share": 0.5})
    assert keep.tolist() == [False, True, True, False, False, True, True, True, False]
    assert not filtering.decide(frame, {"rule": "threshold", "threshold": 0.5}).any()
    # per (pair, rep) alone, top_share may leave a class of a pair with nothing
    top = filtering.decide(frame, {"rule": "top_share", "top_share": 0.5})
    assert not top[frame["class_index"] == 1].any()


@pytest.mark.parametrize(("rule", "message"), [
    ({"rule": "entropy"}, r"filtering\.rule: bad value 'entropy'"),
    ({"rule": "top_share", "top_share": 0.0}, r"filtering\.top_share: bad value 0\.0"),
    ({"rule": "class_share", "class_share": 1.5}, r"filtering\.class_share: bad value 1\.5"),
])
def test_bad_rule_names_the_key(rule: dict, message: str) -> None:
    with pytest.raises(filtering.FilterError, match=message):
        filtering.decide(scores([0.5], [("a", "b")]), rule)


def test_schema_takes_the_rules_from_the_module() -> None:
    from cdga.config import registry_defs

    assert registry_defs()["filter_rule"] == {"enum": ["threshold", "top_share", "class_share"]}


# ---------------------------------------------------------------- the scorer's rows
@pytest.fixture
def toy(tiny_dataset: Path) -> tuple[Path, pd.DataFrame]:
    return tiny_dataset, split_table(tiny_dataset)


def test_scorer_rows_are_the_training_split_of_the_training_domains(toy) -> None:
    _, table = toy
    rows = filtering.scorer_rows(table, "c", None, 0)
    expected = table[(table["domain"] != "c") & (table["split"] == "train")]
    assert sorted(rows["path"]) == sorted(expected["path"])
    filtering.check_scorer_rows(rows, table, "c")  # passes the guard
    few = filtering.scorer_rows(table, "c", 3, seed=0)
    assert few.groupby("domain").size().to_dict() == {"a": 3, "b": 3}
    assert few.equals(filtering.scorer_rows(table, "c", 3, seed=0))
    assert not few.equals(filtering.scorer_rows(table, "c", 3, seed=1))


def test_leakage_guard_fires_on_the_scorers_training_rows(toy) -> None:
    _, table = toy
    rows = filtering.scorer_rows(table, "c", None, 0)
    test_image = table[table["domain"] == "c"].iloc[[0]][filtering.SCORER_COLUMNS]
    with pytest.raises(assembly.LeakageError, match="real image in test domain 'c'"):
        filtering.check_scorer_rows(pd.concat([rows, test_image]), table, "c")
    # the domain comes from the split table, not from the row: a relabelled test image is caught
    relabelled = test_image.assign(domain="a")
    with pytest.raises(assembly.LeakageError, match="real image in test domain 'c'"):
        filtering.check_scorer_rows(pd.concat([rows, relabelled]), table, "c")
    val = table[(table["domain"] == "a") & (table["split"] == "val")].iloc[[0]]
    with pytest.raises(assembly.LeakageError, match="real image from a validation split"):
        filtering.check_scorer_rows(pd.concat([rows, val[filtering.SCORER_COLUMNS]]), table, "c")
    stranger = rows.iloc[[0]].assign(path="/elsewhere/x.png")
    with pytest.raises(assembly.LeakageError, match="not in the split table"):
        filtering.check_scorer_rows(pd.concat([rows, stranger]), table, "c")


def test_leakage_guard_fires_on_the_scored_synthetic_rows(toy) -> None:
    root, table = toy
    rows = filtering.scorer_rows(table, "c", None, 0)
    clean = assembly.read_synthetic(make_pairs(root, table, "Toy", "ig", [("a", "b")], 1))
    filtering.check_scorer_rows(rows, table, "c", clean)
    leaky = assembly.read_synthetic([make_shard(root, table, "Toy", "ig", "c", "a", 0)])
    with pytest.raises(assembly.LeakageError, match="source image in test domain 'c'"):
        filtering.check_scorer_rows(rows, table, "c", pd.concat([clean, leaky]))


# ---------------------------------------------------------------- the keep list in assembly
def test_assembly_of_a_filtered_method_keeps_only_the_kept_images(toy, tmp_path: Path) -> None:
    root, table = toy
    pairs = methods.synthetic_pairs("cdga_ig_filtered", DOMAINS, "c")
    assert pairs == methods.synthetic_pairs("cdga_ig", DOMAINS, "c")  # the twin's pairs
    synthetic = assembly.read_synthetic(make_pairs(root, table, "Toy", "ig", pairs, 2))
    decisions = synthetic.assign(keep=np.arange(len(synthetic)) % 3 != 0)
    decisions["shard"] = decisions["shard"].str.replace("/rep", "/./rep")  # spelt otherwise
    level1 = synthetic[synthetic["rep"] == 0]
    kept = filtering.kept(level1, decisions, "keep.csv")
    assert len(kept) == decisions.loc[decisions["rep"] == 0, "keep"].sum() < len(level1)
    manifest = assembly.assemble(table, "c", kept, pairs, "ig", 1)
    train = manifest[(manifest["role"] == "train") & (manifest["origin"] == "synthetic")]
    dropped = synthetic[~decisions["keep"].to_numpy()]
    assert set(zip(train["shard"], train["path"], strict=True)) == set(
        zip(kept["shard"], kept["member"], strict=True))
    assert not set(zip(train["shard"], train["path"], strict=True)) & set(
        zip(dropped["shard"], dropped["member"], strict=True))
    with pytest.raises(assembly.ManifestError, match=r"keep list 'keep\.csv' lacks 1 synthetic"):
        filtering.kept(level1, decisions.drop(index=0), "keep.csv")

def test_a_keep_list_that_keeps_nothing_of_a_domain_leaves_assembly_whole(toy) -> None:
    root, table = toy
    pairs = methods.synthetic_pairs("cdga_ig_filtered", DOMAINS, "c")
    synthetic = assembly.read_synthetic(make_pairs(root, table, "Toy", "ig", pairs, 2))
    decisions = synthetic.assign(dataset="Toy", test_env="c",
                                 keep=(synthetic["target_domain"] != "b")
                                 & (synthetic["rep"] == 0))
    level1 = synthetic[synthetic["rep"] == 0]
    kept = filtering.kept(level1, decisions, "keep.csv")
    assert set(kept["target_domain"]) == {"a"} and len(kept) == (level1["target_domain"] == "a").sum()
    manifest = assembly.assemble(table, "c", kept, pairs, "ig", 1)
    assert set(manifest.loc[manifest["origin"] == "synthetic", "domain"]) == {"a"}
    assert (manifest["origin"] == "real").sum() == len(table)
    empty = filtering.empty_pairs(decisions)
    assert empty.columns.tolist() == filtering.EMPTY_COLUMNS
    assert set(zip(empty["source_domain"], empty["target_domain"], empty["rep"], strict=True)) == {
        ("a", "b", 0), ("a", "b", 1), ("b", "a", 1)}
    assert (empty["n"] == (synthetic["source_domain"] == "a").sum() / 2).all()
    nothing = filtering.kept(level1, decisions.assign(keep=False), "keep.csv")
    assert nothing.empty
    only_real = assembly.assemble(table, "c", nothing, pairs, "ig", 1)
    assert set(only_real["origin"]) == {"real"}


def test_filtered_methods_are_registered_beside_their_twins() -> None:
    assert methods.unfiltered_twin("cdga_pg_filtered") == "cdga_pg"
    assert methods.unfiltered_twin("cdga_ig_filtered") == "cdga_ig"
    assert methods.unfiltered_twin("cdga_pg") is None
    for name in ("cdga_pg_filtered", "cdga_ig_filtered"):
        spec, twin = methods.method(name), methods.method(methods.unfiltered_twin(name))
        assert (spec.algorithm, spec.synthetic, spec.variant) == (
            twin.algorithm, twin.synthetic, twin.variant)
    order = methods.beside_twins(["cdga_ig_filtered", "erm", "cdga_pg", "cdga_ig",
                                  "cdga_pg_filtered", "mixup_inter"])
    assert order == ["erm", "cdga_pg", "cdga_pg_filtered", "cdga_ig", "cdga_ig_filtered",
                     "mixup_inter"]
    assert methods.beside_twins(["cdga_ig_filtered", "erm"]) == ["cdga_ig_filtered", "erm"]
    assert not methods.runs_on("cdga_pg_filtered", ["ig"])  # IG-only datasets skip it


# ---------------------------------------------------------------- the scorer on real shards
def test_scorer_scores_shards_in_place_whatever_the_batch(toy) -> None:
    root, table = toy
    rows = filtering.scorer_rows(table, "c", None, 0)
    model = scorer.train(rows, 2, SCORER)
    synthetic = assembly.read_synthetic(make_pairs(root, table, "Toy", "ig", [("a", "b"),
                                                                               ("b", "a")], 1))
    scored = scorer.score(model, synthetic, 8, batch_size=3)
    assert len(scored) == len(synthetic)
    assert scored["source_prob"].between(0, 1).all()
    assert (scored["class_prob"] >= scored["source_prob"] - 1e-6).all()
    # where the top class is the source's, its probability is the source's
    own = scored["class_pred"] == scored["class_index"]
    assert np.allclose(scored.loc[own, "class_prob"], scored.loc[own, "source_prob"], atol=1e-6)
    again = scorer.score(model, synthetic, 8, batch_size=len(synthetic))
    assert np.allclose(again["source_prob"], scored["source_prob"], atol=1e-5)
    # the scorer trained on real images: a real copy of an image scores as that image does
    real = filtering.scorer_rows(table, "c", None, 0).head(4)
    copies = make_copies(root / "copies.tar", real)
    ref = scorer.score(model, copies.assign(class_index=real["class_index"].to_numpy()), 8, 2)
    x = scorer.gq.to_tensor([np.asarray(Image.open(p).convert("RGB")) for p in real["path"]])
    import torch

    with torch.no_grad():
        probs = torch.softmax(model(x), 1).numpy()
    assert np.allclose(ref["source_prob"], probs[np.arange(4), real["class_index"]], atol=1e-5)


def test_scorer_scores_equal_a_member_by_member_reference(toy) -> None:
    """The scores equal, bit for bit, the scorer run on each batch of members decoded one by
    one from their shards and stacked (as ``score`` read them before it used the training
    loader's rows; a batch converted as one strided tensor differs in the last bits)."""
    import torch

    from cdga.data.shards import TarShard
    from cdga.generation.images import square

    root, table = toy
    model = scorer.train(filtering.scorer_rows(table, "c", None, 0), 2, SCORER).eval()
    synthetic = assembly.read_synthetic(make_pairs(root, table, "Toy", "pg", [("a", "b"),
                                                                               ("b", "a")], 1))
    scored = scorer.score(model, synthetic, 8, batch_size=3)
    ref = []
    with torch.no_grad():
        for start in range(0, len(synthetic), 3):
            batch = synthetic.iloc[start:start + 3]
            x = torch.stack([scorer.gq.to_tensor([np.asarray(square(TarShard(s).image(m), 8))])[0]
                             for s, m in zip(batch["shard"], batch["member"], strict=True)])
            prob = torch.softmax(model(x), dim=1)
            own = torch.tensor(batch["class_index"].to_numpy())
            ref.append(prob.gather(1, own[:, None])[:, 0].numpy())
    assert len(scored) == len(synthetic) > 3
    assert np.array_equal(scored["source_prob"].to_numpy(), np.concatenate(ref).astype(float))


def python_containers(obj: object, seen: set[int] | None = None) -> list[int]:
    """Lengths of the lists, tuples and dicts reachable through ``obj``'s attributes."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, np.ndarray | str | bytes | int | float):
        return []
    seen.add(id(obj))
    found = [len(obj)] if isinstance(obj, list | tuple | dict) else []
    items = (obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list | tuple)
             else vars(obj).values() if hasattr(obj, "__dict__") else [])
    for item in items:
        found += python_containers(item, seen)
    return found


def test_the_scorers_rows_at_200k_live_in_numpy_with_one_index_per_shard(tmp_path: Path) -> None:
    """200 k synthetic rows over two shards: the scorer's dataset keeps members, shards and
    labels in numpy arrays (no Python list or dict of rows), each shard's member index is
    built once, before any worker forks, and an item reads its member from the shard."""
    from cdga.data.shards import png_bytes, write_tar
    from cdga.training.loader import ImageRows, Strings

    n = 200_000
    members = [f"domain__class__{k:06d}.png" for k in range(n)]
    image = png_bytes(Image.new("RGB", (4, 4), (255, 0, 0)))
    shards = [tmp_path / "shard 0.tar", tmp_path / "shard 1.tar"]
    for s, shard in enumerate(shards):
        write_tar(shard, ((m, image) for m in members[s::2]))
    manifest = pd.DataFrame({"shard": [str(shards[k % 2]) for k in range(n)], "member": members,
                             "class_index": np.arange(n) % 345})
    images = scorer.shard_images(manifest, 8)
    assert isinstance(images, ImageRows) and isinstance(images.paths, Strings) and len(images) == n
    assert images.labels.dtype == np.int64 and images.shard_codes.dtype == np.int32
    assert max(python_containers(images)) <= 2  # the list of the two shards' TarShard objects
    assert [t._index is not None and len(t.index) for t in images._tars] == [n // 2, n // 2]
    x, label = images[n - 1]
    assert label == (n - 1) % 345 and x.shape == (3, 8, 8)
    assert torch_allclose(x[0], 1.0) and torch_allclose(x[1], -1.0)  # red, in [-1, 1]


def torch_allclose(x, value: float) -> bool:
    return bool((x - value).abs().max() < 1e-6)


def make_copies(tar: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """A shard holding the images of ``rows`` unchanged; its manifest rows."""
    from cdga.data.shards import png_bytes, write_tar

    members = []
    for k, path in enumerate(rows["path"]):
        with Image.open(path) as im:
            members.append((f"{k}.png", png_bytes(im.convert("RGB"))))
    write_tar(tar, members)
    return pd.DataFrame({"shard": str(tar), "member": [m for m, _ in members]})


# ---------------------------------------------------------------- shares and figure
def decisions_of(root: Path, table: pd.DataFrame, dataset: str, variants: list[str]
                 ) -> pd.DataFrame:
    frames = []
    for variant in variants:
        for test_env in ("c", "b"):
            pairs = methods.synthetic_pairs("cdga_ig", DOMAINS, test_env)
            synthetic = assembly.read_synthetic(make_pairs(root / dataset / test_env, table,
                                                           dataset, variant, pairs, 1))
            prob = np.resize([0.2, 0.8, 0.45, 0.6, 0.9], len(synthetic))  # both per pair
            frames.append(synthetic.assign(dataset=dataset, test_env=test_env, source_prob=prob,
                                           class_pred=0, class_prob=prob, keep=prob > 0.5))
    return pd.concat(frames, ignore_index=True)[filtering.DECISION_COLUMNS]


def test_shares_per_pair_and_class_and_the_figure_of_two_datasets_one_ig_only(toy) -> None:
    root, table = toy
    both = pd.concat([decisions_of(root, table, "PGIG", ["pg", "ig"]),
                      decisions_of(root, table, "IGOnly", ["ig"])], ignore_index=True)
    pairs = filtering.kept_shares(both, filtering.PAIR)
    assert len(pairs) == 2 * 2 * 2 + 2 * 2  # (variant, test env, pair) per dataset
    assert set(pairs.loc[pairs["dataset"] == "IGOnly", "variant"]) == {"ig"}
    one = both[(both["dataset"] == "PGIG") & (both["variant"] == "pg") & (both["test_env"] == "c")
               & (both["source_domain"] == "a")]
    row = pairs[(pairs["dataset"] == "PGIG") & (pairs["variant"] == "pg")
                & (pairs["test_env"] == "c") & (pairs["source_domain"] == "a")].iloc[0]
    assert (row["n"], row["kept"]) == (len(one), one["keep"].sum())
    assert row["kept_share"] == pytest.approx(one["keep"].mean())
    assert row["mean_kept_source_prob"] == pytest.approx(one.loc[one["keep"], "source_prob"].mean())
    classes = filtering.kept_shares(both, ["class_index", "class_name"])
    assert classes.groupby(filtering.SHARE_KEYS)["n"].sum().equals(
        pairs.groupby(filtering.SHARE_KEYS)["n"].sum())
    # test env c's pairs are a<->b, test env b's a<->c: each (variant, pair) is shown once,
    # under the first test env that reads it
    first = {("a", "b"): "c", ("b", "a"): "c", ("a", "c"): "b", ("c", "a"): "b"}
    for dataset, variants in (("PGIG", ["pg", "ig"]), ("IGOnly", ["ig"])):
        own = both[both["dataset"] == dataset]
        picks = filtering.example_rows(own, 2, seed=0)
        # from a sample of each job's decisions, as rule filter_summary picks them
        sampled = filtering.sample_examples(own, 2, seed=0)
        assert len(sampled) < len(own)
        assert filtering.example_rows(sampled, 2, seed=0)[["row", "slot", "member"]].shape == (
            picks[["row", "slot", "member"]].shape)
        shown = set(zip(picks["row"], picks["variant"], picks["source_domain"],
                        picks["target_domain"], picks["test_env"], strict=True))
        assert shown == {(r, v, *pair, env) for r, (v, (pair, env)) in enumerate(
            (v, item) for v in variants for item in sorted(first.items()))}
        rows = len(shown)
        assert picks.loc[picks["slot"] < 2, "keep"].all() and not picks.loc[picks["slot"] >= 2, "keep"].any()
        fig = figures.filter_examples(picks, 2, 16, dataset)
        png, pdf = figures.figure_paths(root, f"examples_{dataset}")
        figures.save(fig, png, pdf)
        with Image.open(png) as im:
            assert im.size[1] > 50 * rows


def test_accuracy_tables_show_each_filtered_row_after_its_twin() -> None:
    from cdga.report import tables

    names = ["erm", "cdga_pg", "cdga_ig", "cdga_pg_filtered", "cdga_ig_filtered"]
    acc = pd.DataFrame([{"dataset": "D", "method": m, "test_env": "a", "trial": t,
                         "selection": "training_domain", "acc": 0.5 + 0.01 * k + 0.02 * t}
                        for k, m in enumerate(names) for t in range(2)])
    md, _ = tables.accuracy_tables(acc, {"D": ["a"]}, names)
    rows = [line.split("|")[1].strip() for line in md.splitlines()
            if line.startswith(("| cdga", "| erm"))]
    assert rows == ["erm", "cdga_pg", "cdga_pg_filtered", "cdga_ig", "cdga_ig_filtered"]
    overview = tables.overview(acc, {"D": ["a"]}, names)
    measured = overview[overview["source"].str.startswith("measured")]["method"].tolist()
    assert measured == ["erm", "cdga_pg", "cdga_pg_filtered", "cdga_ig", "cdga_ig_filtered"]


# ---------------------------------------------------------------- the paper's linear probe
def test_linear_probe_trains_only_a_head_on_the_frozen_resnet50(toy, tmp_path: Path) -> None:
    """The paper's scorer (filtering.scorer.weights set): a local ResNet-50 state dict stays
    as it is; the head learns the training rows; it saves, loads and scores as trained."""
    import torch
    from torchvision.models import resnet50

    root, table = toy
    torch.manual_seed(0)
    weights = tmp_path / "resnet50.pth"
    state = resnet50(weights=None).state_dict()
    torch.save(state, weights)
    opts = {**SCORER, "backbone": "resnet50", "weights": str(weights), "resolution": 16,
            "epochs": 40, "batch_size": 8, "lr": 1e-2}
    assert scorer.is_probe(opts) and not scorer.is_probe(SCORER)
    rows = filtering.scorer_rows(table, "c", None, 0)
    model = scorer.train(rows, 2, opts, batch_size=7)
    assert isinstance(model, scorer.ImageNetInput)
    own = model.model.featurizer.state_dict()
    assert all(torch.equal(own[k], state[k]) for k in own)  # frozen, BatchNorm stats too
    assert scorer.accuracy(model, rows, 16, batch_size=3) >= 0.9  # the head learnt its rows
    scorer.save(str(tmp_path / "scorer.pt"), model, 16, test_env="c")
    loaded, resolution = scorer.load(str(tmp_path / "scorer.pt"))
    assert isinstance(loaded, scorer.ImageNetInput) and resolution == 16
    synthetic = assembly.read_synthetic(make_pairs(root, table, "Toy", "ig", [("a", "b")], 1))
    a, b = (scorer.score(m, synthetic, 16, batch_size=4) for m in (model, loaded))
    assert np.allclose(a["source_prob"], b["source_prob"], atol=1e-6)
    # the probe reads ImageNet-normalised input: the same head on [-1, 1] input scores otherwise
    raw = scorer.score(loaded.model, synthetic, 16, batch_size=4)
    assert not np.allclose(raw["source_prob"], a["source_prob"], atol=1e-3)
    # a from-scratch scorer saves and loads as before, without the normalisation
    plain = scorer.train(rows, 2, SCORER)
    scorer.save(str(tmp_path / "plain.pt"), plain, 8)
    assert not isinstance(scorer.load(str(tmp_path / "plain.pt"))[0], scorer.ImageNetInput)


# ---------------------------------------------------------------- nothing kept: train, tables
def test_a_domain_with_nothing_kept_trains_on_its_real_images_only() -> None:
    from cdga.training import train

    manifest = pd.DataFrame({"role": "train", "domain": ["a", "a", "a", "b", "b"],
                             "origin": ["real", "real", "synthetic", "real", "real"]})
    streams = train._streams(manifest, ["a", "b"], (3, 1), filtered=True)
    assert [(s.rows.tolist(), s.count) for s in streams] == [
        ([0, 1], 3), ([2], 1), ([3, 4], 4), ([], 0)]  # b: the whole per-domain batch real
    with pytest.raises(ValueError, match="training domain 'b' has no synthetic training rows"):
        train._streams(manifest, ["a", "b"], (3, 1))  # an unfiltered method: a real error


def test_the_tables_note_names_the_filtered_runs_with_nothing_kept() -> None:
    from cdga.report import tables

    empty = pd.DataFrame({"dataset": "PACS", "variant": ["pg", "ig"], "test_env": "sketch",
                          "source_domain": "photo", "target_domain": "cartoon", "rep": 0,
                          "n": 12})[filtering.EMPTY_COLUMNS]
    note = tables.filter_note(empty, ["erm", "cdga_pg", "cdga_pg_filtered"])
    assert "cdga_pg_filtered, PACS, test domain sketch" in note
    assert "photo -> cartoon (rep 0, 12 images)" in note and "cdga_ig" not in note
    assert tables.filter_note(empty.iloc[:0], ["cdga_pg_filtered"]) == ""
    assert tables.filter_note(empty, ["erm", "cdga_pg"]) == ""
