"""Dataset downloads: fetching (file:// and a local HTTP server), resume, checksums, unpacking."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from toy_dataset import write_image

from cdga.core.registry import domains
from cdga.data import download
from cdga.data.download import DownloadError, Source, fetch, prepare

CLASSES = ("dog", "horse")


def image_bytes(name: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), zlib.crc32(name.encode()) % 255, dtype=np.uint8)).save(
        buf, format="PNG")
    return buf.getvalue()


def dataset_members(prefix: str, dataset: str) -> dict[str, bytes]:
    """Archive members ``prefix/<domain>/<class>/<k>.png`` for every domain of ``dataset``."""
    names = [f"{d}/{c}/{k}.png" for d in domains(dataset) for c in CLASSES for k in range(2)]
    return {prefix + name: image_bytes(name) for name in names}


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def write_targz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def layout(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


class RangeServer(http.server.ThreadingHTTPServer):
    """Serves ``payload`` at every path, honouring ``Range: bytes=N-``; records each Range asked.

    ``cut_at`` makes the server announce the full length but close after that many bytes.
    """

    payload = b""
    content_type = "application/zip"
    cut_at: int | None = None
    ranges: list[str | None]


class RangeHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        srv: RangeServer = self.server  # type: ignore[assignment]
        asked = self.headers.get("Range")
        srv.ranges.append(asked)
        start = int(asked.split("=")[1].rstrip("-")) if asked else 0
        body = srv.payload[start:]
        self.send_response(206 if asked else 200)
        self.send_header("Content-Type", srv.content_type)
        self.send_header("Content-Length", str(len(body)))
        if asked:
            self.send_header("Content-Range", f"bytes {start}-{len(srv.payload) - 1}/{len(srv.payload)}")
        self.end_headers()
        self.wfile.write(body if srv.cut_at is None else body[: srv.cut_at])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[RangeServer]:
    srv = RangeServer(("127.0.0.1", 0), RangeHandler)
    srv.ranges = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url_of(srv: RangeServer, name: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/{name}"


def test_prepare_pacs_zip_from_file_url(tmp_path: Path) -> None:
    members = dataset_members("kfold/", "PACS")
    archive = write_zip(tmp_path / "src.zip", members)
    root = tmp_path / "data"
    summary = prepare("PACS", root, [Source(archive.as_uri(), "PACS.zip")])
    assert layout(root / "PACS") == {m.removeprefix("kfold/") for m in members}
    assert summary["obtained"] == "downloaded"
    assert summary["images"] == {d: 4 for d in domains("PACS")}
    # archives and staging are gone; only the dataset folder is left
    assert sorted(p.name for p in root.iterdir()) == ["PACS"]


def test_present_dataset_is_not_fetched(tmp_path: Path) -> None:
    for d in domains("VLCS"):
        write_image(tmp_path / "VLCS" / d / "bird" / "0.png", seed=1)
    summary = prepare("VLCS", tmp_path, [Source((tmp_path / "absent.tar.gz").as_uri(), "x.tar.gz")])
    assert summary["obtained"] == "found"
    assert not (tmp_path / ".downloads").exists()


def test_domainbed_folder_name_is_pointed_out(tmp_path: Path) -> None:
    for d in domains("OfficeHome"):
        write_image(tmp_path / "office_home" / d / "Mug" / "0.png", seed=1)
    with pytest.raises(DownloadError, match=r"ln -s office_home .*OfficeHome"):
        prepare("OfficeHome", tmp_path, [])


def test_google_drive_sources_by_url_override(tmp_path: Path) -> None:
    """The config's Drive links are plain URLs: a file:// override runs the same unpacking."""
    assert download.direct_url("https://drive.google.com/uc?id=ABC_1-x") == (
        "https://drive.usercontent.google.com/download?id=ABC_1-x&export=download&confirm=t")
    assert download.direct_url("http://csr.bu.edu/a.zip") == "http://csr.bu.edu/a.zip"
    members = dataset_members("VLCS/", "VLCS")
    archive = write_targz(tmp_path / "VLCS.tar.gz", members)
    prepare("VLCS", tmp_path / "data", [Source(archive.as_uri(), "VLCS.tar.gz")])
    assert layout(tmp_path / "data" / "VLCS") == {m.removeprefix("VLCS/") for m in members}


def test_domain_net_drops_listed_duplicates(tmp_path: Path) -> None:
    members = dataset_members("", "DomainNet")
    sources = []
    for d in domains("DomainNet"):
        own = {k: v for k, v in members.items() if k.startswith(f"{d}/")}
        sources.append(Source(write_zip(tmp_path / f"{d}.zip", own).as_uri(), f"{d}.zip"))
    dups = tmp_path / "dups.txt"
    dups.write_text("clipart/dog/0.png\nreal/horse/1.png\nreal/horse/not_there.png\n")
    sources.append(Source(dups.as_uri(), "domain_net_duplicates.txt"))
    prepare("DomainNet", tmp_path / "data", sources)
    assert layout(tmp_path / "data" / "DomainNet") == set(members) - {
        "clipart/dog/0.png", "real/horse/1.png"}


def test_checksum_mismatch_is_an_error_and_removes_the_file(tmp_path: Path) -> None:
    src = tmp_path / "a.zip"
    src.write_bytes(b"payload")
    good = "sha256:" + hashlib.sha256(b"payload").hexdigest()
    bad = "md5:" + hashlib.md5(b"other").hexdigest()
    with pytest.raises(DownloadError, match=r"checksum mismatch for .*a\.zip.part: expected md5:"):
        fetch(Source(src.as_uri(), "a.zip", bad), tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []
    assert fetch(Source(src.as_uri(), "a.zip", good), tmp_path / "dl").read_bytes() == b"payload"
    with pytest.raises(DownloadError, match="checksum mismatch"):  # a finished file is checked too
        fetch(Source(src.as_uri(), "a.zip", bad), tmp_path / "dl")


def test_file_url_resumes_partial_download(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    payload = bytes(range(256)) * 4000
    src = tmp_path / "big.tar.gz"
    src.write_bytes(payload)
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "big.tar.gz.part").write_bytes(payload[:300_000])
    caplog.set_level("INFO")
    out = fetch(Source(src.as_uri(), "big.tar.gz",
                       "sha256:" + hashlib.sha256(payload).hexdigest()), dest)
    assert out.read_bytes() == payload
    assert "resuming at 300000" in caplog.text
    assert "fetched 724000 bytes" in caplog.text


def test_http_download_resumes_with_range_after_a_break(
        tmp_path: Path, server: RangeServer) -> None:
    server.payload = bytes(range(256)) * 40_000  # ~10 MB: more than one read chunk
    server.cut_at = 3_000_000
    source = Source(url_of(server, "PACS.zip"), "PACS.zip",
                    "sha256:" + hashlib.sha256(server.payload).hexdigest())
    with pytest.raises(DownloadError, match="rerun to resume"):
        fetch(source, tmp_path)
    assert (tmp_path / "PACS.zip.part").stat().st_size == 3_000_000
    server.cut_at = None
    assert fetch(source, tmp_path).read_bytes() == server.payload
    assert server.ranges == [None, "bytes=3000000-"]


def test_web_page_instead_of_archive_is_an_error(tmp_path: Path, server: RangeServer) -> None:
    server.payload, server.content_type = b"<html>quota exceeded</html>", "text/html"
    with pytest.raises(DownloadError, match="answered with a web page"):
        fetch(Source(url_of(server, "x"), "VLCS.tar.gz"), tmp_path)


def test_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"absent\.zip.* does not exist"):
        fetch(Source((tmp_path / "absent.zip").as_uri(), "a.zip"), tmp_path / "dl")
