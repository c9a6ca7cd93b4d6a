"""The paper-shaped test study: config/paper.yaml's code path, with only the sizes made small.

``build(root)`` lays out what a cluster user starts from: DomainBed-style source archives
(OfficeHome's zip with ``OfficeHomeDataset_10072016/``, VLCS's tar.gz with ``VLCS/``), a local
Stable-Diffusion-architecture pipeline directory and a local ResNet-50 weights file. The images
are held as the real datasets hold them: JPEG, non-square and of mixed sizes, greyscale,
palette, RGBA and CMYK images, upper-case suffixes, OfficeHome's ``Real World`` domain, class
folders with underscores, and stray ``Thumbs.db``, ``.DS_Store`` and ``__MACOSX`` entries.
It returns the config files, in order, that run the study:
config/paper.yaml, config/test_paper.yaml (small sizes) and the paths of this build.

    python tests/paper_study.py ROOT   # builds ROOT; prints the config files, one per line
"""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from torchvision.models import resnet50

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(REPO / "src"))  # this checkout's library, also when run as a script

from sd_pipeline import save_tiny_pipeline

from cdga.core.registry import domains

CONFIGS = (REPO / "config" / "paper.yaml", REPO / "config" / "test_paper.yaml")
CLASSES = {"OfficeHome": ("Alarm_Clock", "Flip_Flops"), "VLCS": ("bird", "car")}
ARCHIVES = {"OfficeHome": ("office_home.zip", "OfficeHomeDataset_10072016"),
            "VLCS": ("VLCS.tar.gz", "VLCS")}
PER_CLASS = 5
# (PIL mode, file suffix, format): one of each per (domain, class), cycling.
KINDS = (("RGB", ".jpg", "JPEG"), ("L", ".JPG", "JPEG"), ("P", ".png", "PNG"),
         ("RGBA", ".PNG", "PNG"), ("CMYK", ".jpeg", "JPEG"))
STRAYS = {"Thumbs.db": b"\xd0\xcf\x11\xe0 not an image", ".DS_Store": b"\x00\x00\x00\x01Bud1"}


def image_bytes(mode: str, fmt: str, seed: int, class_index: int) -> bytes:
    """A non-square image of a seeded size (17-45 px), tinted by its class, encoded as ``fmt``."""
    rng = np.random.default_rng(seed)
    w, h = (int(v) for v in rng.integers(17, 46, 2))
    if w == h:
        w += 3
    rgb = rng.integers(0, 96, (h, w, 3), dtype=np.uint8)
    rgb[..., class_index % 3] += 150
    image = Image.fromarray(rgb)
    image = image.convert(mode) if mode != "P" else image.quantize(16)
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def dataset_members(dataset: str) -> dict[str, bytes]:
    """Archive member name -> bytes of one source archive, laid out as the real one is."""
    top = ARCHIVES[dataset][1]
    members: dict[str, bytes] = {f"{top}/ImageInfo.csv": b"path,author\n"} if dataset == "OfficeHome" else {}
    for d, domain in enumerate(domains(dataset)):
        members[f"{top}/{domain}/.DS_Store"] = STRAYS[".DS_Store"]
        for c, name in enumerate(CLASSES[dataset]):
            members[f"{top}/{domain}/{name}/Thumbs.db"] = STRAYS["Thumbs.db"]
            for k in range(PER_CLASS):
                mode, suffix, fmt = KINDS[(d + c + k) % len(KINDS)]
                seed = 1000 * d + 100 * c + k
                members[f"{top}/{domain}/{name}/{k + 1:05d}{suffix}"] = image_bytes(mode, fmt, seed, c)
    members[f"__MACOSX/{top}/._ImageInfo.csv"] = b"\x00\x05\x16\x07"
    return members


def write_archive(path: Path, members: dict[str, bytes]) -> None:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def prompt_letters(paper: dict) -> list[str]:
    """Every character of every prompt the study can give the LDM, one caption each: the tiny
    tokenizer then spells any prompt, letter by letter where it knows no longer piece."""
    text = ""
    for dataset, classes in CLASSES.items():
        own = paper["dataset_settings"][dataset]
        for c in classes:
            name = c.replace("_", " ")
            text += own["class_prompt_template"].format(class_name=name)
            text += "".join(own["prompt_template"].format(domain=d, class_name=name)
                            for d in own.get("descriptions", {}).values())
    return [*sorted(set(text.lower()) - {" "}), "of"]  # one merge: the BPE file needs one


def build(root: Path) -> list[Path]:
    """Lay out archives, LDM and weights under ``root``; return the study's config files."""
    root.mkdir(parents=True, exist_ok=True)
    paper = yaml.safe_load(CONFIGS[0].read_text())
    downloads = {}
    for dataset, (file, _) in ARCHIVES.items():
        archive = root / "archives" / file
        archive.parent.mkdir(exist_ok=True)
        write_archive(archive, dataset_members(dataset))
        downloads[dataset] = [{"url": archive.as_uri(), "file": file}]
    save_tiny_pipeline(root / "models" / "sd-tiny", captions=prompt_letters(paper),
                       max_length=48)
    torch.manual_seed(0)
    weights = root / "models" / "resnet50_random.pth"
    torch.save(resnet50(weights=None).state_dict(), weights)
    paths = root / "paths.yaml"
    paths.write_text(yaml.safe_dump({
        "datasets_root": str(root / "data"),
        "downloads": downloads,
        "ldm": {"model": str(root / "models" / "sd-tiny")},
        "training": {"weights": str(weights)},
        "filtering": {"scorer": {"weights": str(weights)}},
    }))
    return [*CONFIGS, paths]


if __name__ == "__main__":
    print(*build(Path(sys.argv[1]).resolve()), sep="\n")
