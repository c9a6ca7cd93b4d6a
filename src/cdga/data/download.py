"""Fetch dataset archives (resumable, checksummed) and unpack them into DomainBed layout.

A dataset is prepared once into ``<root>/<Dataset>/<domain>/<class>/``. If that folder
already holds every domain (data downloaded beforehand, e.g. on an offline cluster),
nothing is fetched. Otherwise each source is downloaded into ``<root>/.downloads/<Dataset>/``
(a ``.part`` file that later attempts continue with an HTTP Range request), checked against
its size and optional checksum, unpacked into a staging folder, arranged by the dataset's
entry in ``ARRANGERS`` and renamed into place, so the dataset folder is never half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cdga.core.registry import DATASETS, Dataset, domains, downloadable
from cdga.data.terra_incognita import convert_terra_incognita

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TIMEOUT_S = 60


class DownloadError(RuntimeError):
    """A source could not be fetched, was incomplete or failed its checksum."""


@dataclass(frozen=True)
class Source:
    """One file to fetch: ``checksum`` is ``"<algorithm>:<hex>"`` (e.g. ``sha256:…``) or empty."""

    url: str
    file: str
    checksum: str = ""

    @classmethod
    def from_config(cls, entry: Mapping) -> Source:
        return cls(url=entry["url"], file=entry["file"], checksum=entry.get("checksum") or "")


def direct_url(url: str) -> str:
    """Turn a Google Drive ``uc?id=`` link into its direct download form; other URLs unchanged.

    The plain link answers large files with a virus-scan web page; the usercontent endpoint
    with ``confirm=t`` serves the file itself and honours Range requests.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.netloc != "drive.google.com":
        return url
    file_id = urllib.parse.parse_qs(parts.query).get("id", [""])[0]
    if not file_id:
        raise DownloadError(f"Google Drive URL {url!r} has no id= parameter")
    query = urllib.parse.urlencode({"id": file_id, "export": "download", "confirm": "t"})
    return f"https://drive.usercontent.google.com/download?{query}"


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of ``path``."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_checksum(path: Path, checksum: str) -> None:
    """Raise DownloadError naming the file if it does not match ``"<algorithm>:<hex>"``."""
    if not checksum:
        return
    algorithm, _, expected = checksum.partition(":")
    if algorithm not in hashlib.algorithms_available or not expected:
        raise DownloadError(f"bad checksum {checksum!r} for {path.name}: use '<algorithm>:<hex>'")
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise DownloadError(
            f"checksum mismatch for {path}: expected {algorithm}:{expected}, got {algorithm}:{actual}"
        )


def _open(url: str, offset: int) -> tuple[BinaryIO, int | None, bool]:
    """Open ``url`` at byte ``offset`` if the source allows; return (stream, total, resumed)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = urllib.request.url2pathname(parts.path)
        if not os.path.isfile(path):
            raise DownloadError(f"source file {path!r} (from {url!r}) does not exist")
        total = os.path.getsize(path)
        stream = open(path, "rb")  # noqa: SIM115 - closed by the caller
        resumed = 0 < offset <= total
        stream.seek(offset if resumed else 0)
        return stream, total, resumed
    request = urllib.request.Request(url, headers={"User-Agent": "cdga-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the partial file is longer than the source: restart
            return _open(url, 0)
        raise DownloadError(f"HTTP {exc.code} {exc.reason} for {url!r}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot reach {url!r}: {exc.reason}") from exc
    if response.headers.get_content_type() == "text/html":
        response.close()
        raise DownloadError(
            f"{url!r} answered with a web page, not the file (moved, or a download quota was "
            "hit); fetch it by hand or set its url in the config's downloads section"
        )
    resumed = response.status == 206
    length = response.headers.get("Content-Length")
    total = int(length) + (offset if resumed else 0) if length is not None else None
    return response, total, resumed


def fetch(source: Source, dest_dir: str | Path) -> Path:
    """Download ``source`` into ``dest_dir``, continuing a ``.part`` file; verify; return the path.

    A finished file that passes its checksum is not fetched again. A checksum mismatch
    removes the file, so the next attempt starts afresh.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.file
    if target.is_file():
        check_checksum(target, source.checksum)
        log.info("%s already downloaded", target)
        return target
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    url = direct_url(source.url)
    stream, total, resumed = _open(url, offset)
    start, fetched = time.monotonic(), 0
    offset = offset if resumed else 0
    with stream, open(part, "ab" if resumed else "wb") as fh:
        log.info("fetching %s -> %s (%s bytes%s)", url, target, total or "unknown",
                 f", resuming at {offset}" if resumed else "")
        try:
            while block := stream.read(CHUNK):
                fh.write(block)
                fetched += len(block)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(
                f"{url!r} broke off after {offset + fetched} bytes ({exc!r}); rerun to resume"
            ) from exc
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"{part}: got {size} of {total} bytes from {url!r}; rerun to resume")
    try:
        check_checksum(part, source.checksum)
    except DownloadError:
        part.unlink()
        raise
    os.replace(part, target)
    log.info("fetched %d bytes in %.1f s", fetched, time.monotonic() - start)
    return target


def unpack(archive: Path, dest: Path) -> None:
    """Extract a .zip, .tar.gz/.tgz or .tar into ``dest``; other files are copied as they are."""
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)  # zipfile drops absolute paths and '..' components
    elif name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    else:
        shutil.copy2(archive, dest / archive.name)


def is_prepared(folder: Path, dataset: str) -> bool:
    """True if ``folder`` has a non-empty sub-folder for every domain of ``dataset``."""
    return all(
        (folder / d).is_dir() and any(p.is_dir() for p in (folder / d).iterdir())
        for d in domains(dataset)
    )


def _move(unpacked: Path, out: Path, entry: Dataset) -> None:
    """The archive holds the dataset as folder ``entry.inner``."""
    src = unpacked / entry.inner
    if not src.is_dir():
        raise DownloadError(f"unpacked archive has no folder {entry.inner!r} in {unpacked}")
    os.replace(src, out)


def _domain_archives(unpacked: Path, out: Path, entry: Dataset) -> None:
    """One archive per domain; then drop the duplicate images the listed .txt files name."""
    out.mkdir()
    for domain in entry.domains:
        if not (unpacked / domain).is_dir():
            raise DownloadError(f"unpacked sources have no domain folder {domain!r} in {unpacked}")
        os.replace(unpacked / domain, out / domain)
    lists = sorted(unpacked.glob("*.txt"))
    removed = 0
    for listing in lists:
        for line in listing.read_text().splitlines():
            dup = out / line.strip()
            if line.strip() and dup.is_file():
                dup.unlink()
                removed += 1
    log.info("removed %d duplicate images listed in %s", removed, [p.name for p in lists])


def _camera_traps(unpacked: Path, out: Path, entry: Dataset) -> None:
    """Images archive plus COCO-style annotation json, converted to location/category folders."""
    jsons = sorted(unpacked.rglob("*.json"))
    if len(jsons) != 1:
        raise DownloadError(f"expected one annotation .json in {unpacked}, found {jsons}")
    images = [p for p in unpacked.iterdir() if p.is_dir()]
    if len(images) != 1:
        raise DownloadError(f"expected one image folder in {unpacked}, found {images}")
    convert_terra_incognita(jsons[0], images[0], out, entry.domains, entry.classes)


# Arranger (``cdga.core.registry.Dataset.arranger``) -> how a dataset's unpacked sources become
# ``<Dataset>/<domain>/<class>/``.
ARRANGERS: dict[str, Callable[[Path, Path, Dataset], None]] = {
    "move": _move,
    "domain_archives": _domain_archives,
    "camera_traps": _camera_traps,
}


def prepare(dataset: str, root: str | Path, sources: Sequence[Source]) -> dict:
    """Make ``root/dataset`` a DomainBed-layout folder, downloading only if it is absent.

    Returns a summary (root, how it was obtained, images per domain) for the marker file.
    """
    root = Path(root)
    target = root / dataset
    if is_prepared(target, dataset):
        how = "found"
    else:
        if target.exists() and any(target.iterdir()):
            raise DownloadError(
                f"{target} exists but lacks domain folder(s) of {dataset} "
                f"{list(domains(dataset))}; move it away or complete it"
            )
        entry = DATASETS.get(dataset)
        legacy = root / (entry.domainbed_folder if entry and entry.domainbed_folder else dataset)
        if legacy != target and is_prepared(legacy, dataset):
            raise DownloadError(
                f"found DomainBed's folder {legacy}; link it under this project's name: "
                f"ln -s {legacy.name} {target}"
            )
        if entry is None or entry.arranger is None:
            raise DownloadError(f"no download recipe for {dataset!r}; known: {downloadable()}")
        if not sources:
            raise DownloadError(f"{target} is missing and the config lists no downloads for it")
        archives = [fetch(s, root / ".downloads" / dataset) for s in sources]
        staging = root / f".{dataset}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        for archive in archives:
            log.info("unpacking %s", archive)
            unpack(archive, staging / "unpacked")
        ARRANGERS[entry.arranger](staging / "unpacked", staging / dataset, entry)
        if not is_prepared(staging / dataset, dataset):
            raise DownloadError(f"sources of {dataset} did not yield every domain {domains(dataset)}")
        if target.exists():
            target.rmdir()
        os.replace(staging / dataset, target)
        shutil.rmtree(staging)
        shutil.rmtree(root / ".downloads" / dataset)
        with contextlib.suppress(OSError):  # other datasets may still be downloading
            (root / ".downloads").rmdir()
        how = "downloaded"
    counts = {d: sum(len(os.listdir(c)) for c in (target / d).iterdir() if c.is_dir())
              for d in domains(dataset)}
    log.info("%s %s at %s: %s", how, dataset, target, counts)
    return {"dataset": dataset, "root": str(root), "obtained": how, "images": counts}
