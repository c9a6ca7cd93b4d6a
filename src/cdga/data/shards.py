"""Synthetic-image shards: one uncompressed tar of images per generation job, plus a manifest.

Cluster filesystems choke on millions of small files, so a shard is a single tar
(WebDataset-style) that training reads in place: the member offsets are indexed once
and each image is read with one seek, never extracted to loose files.

Members are encoded in ``generation.image_format``: lossless PNG (the default) or JPEG or WebP
at ``generation.image_quality``. A member keeps its source image's name whatever its format;
readers tell the format from the bytes.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cdga.core.io import atomic_path

# generation.image_format -> Pillow format; the schema's enum reads these names.
IMAGE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
LOSSLESS = "png"


def write_tar(target: str | os.PathLike, members: Iterable[tuple[str, bytes]]) -> None:
    """Atomically write ``(name, data)`` pairs as an uncompressed tar, in the given order."""
    with atomic_path(target, ".tar") as tmp, tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0  # byte-identical output for identical images
            tar.addfile(info, io.BytesIO(data))


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG bytes."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def image_bytes(image: Image.Image, image_format: str = LOSSLESS, quality: int | None = None) -> bytes:
    """Encode an image as ``image_format`` (``IMAGE_FORMATS``); JPEG and WebP at ``quality``
    (1-100; Pillow's defaults otherwise: JPEG 4:2:0 chroma subsampling, WebP lossy, method 4)."""
    if image_format == LOSSLESS:
        return png_bytes(image)
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"unknown generation.image_format {image_format!r}; known: {list(IMAGE_FORMATS)}")
    if quality is None or not 1 <= quality <= 100:
        raise ValueError(f"generation.image_quality {quality!r} must be 1-100 for image_format {image_format!r}")
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=IMAGE_FORMATS[image_format], quality=quality)
    return buf.getvalue()


def storage_settings(generation: Mapping) -> dict:
    """The keys of a ``generation`` config block that shape a shard's bytes besides the images:
    none for PNG (lossless: ``image_quality`` changes nothing, and PNG shards made before these
    keys existed stay valid), else ``image_format`` and ``image_quality``."""
    image_format = generation.get("image_format", LOSSLESS)
    if image_format == LOSSLESS:
        return {}
    return {"image_format": image_format, "image_quality": generation.get("image_quality")}


END_MARKER = 2 * tarfile.BLOCKSIZE  # two zero blocks close every tar that write_tar writes
REMAKE = "delete it and its manifest (.csv) and rerun its generate job"


class ShardError(RuntimeError):
    """A synthetic shard cannot be read; the message names the file and how to remake it."""


Members = tuple[list[str], list[int], list[int], int]  # names, data offsets, sizes, end offset


def tarfile_members(path: Path) -> Members:
    """Every regular member of tar ``path``, read with ``tarfile`` (any dialect)."""
    names, offsets, sizes = [], [], []
    try:
        with tarfile.open(path, "r:") as tar:
            for m in tar:
                if m.isfile():
                    names.append(m.name)
                    offsets.append(m.offset_data)
                    sizes.append(m.size)
            end = tar.offset  # where the end-of-archive marker should start
    except tarfile.TarError as exc:
        raise ShardError(f"synthetic shard {str(path)!r} is corrupt ({exc}); {REMAKE}") from exc
    return names, offsets, sizes, end


def _octal(field: bytes) -> int:
    return int(field.split(b"\0", 1)[0].strip() or b"0", 8)


def plain_ustar_members(path: Path) -> Members | None:
    """The members of a tar as ``write_tar`` writes it (USTAR headers of regular files only),
    read straight from the 512-byte headers: about 4x faster than ``tarfile``, which builds a
    TarInfo per member (a training job indexes millions). None at anything else (another
    member type, a bad checksum, a short read), for ``tarfile_members`` to read or reject."""
    names, offsets, sizes = [], [], []
    with open(path, "rb") as f:
        fd, total = f.fileno(), os.fstat(f.fileno()).st_size
        offset = 0
        while True:
            header = os.pread(fd, tarfile.BLOCKSIZE, offset)
            if len(header) < tarfile.BLOCKSIZE:
                return None
            if not any(header):
                return names, offsets, sizes, offset
            try:
                size, checksum = _octal(header[124:136]), _octal(header[148:156])
            except ValueError:
                return None
            if (header[156:157] not in (b"0", b"\0") or header[257:265] != b"ustar\x0000"
                    or checksum != sum(header[:148]) + 8 * 0x20 + sum(header[156:])):
                return None
            data = offset + tarfile.BLOCKSIZE
            if data + size > total:
                return None
            name = header[:100].split(b"\0", 1)[0]
            prefix = header[345:500].split(b"\0", 1)[0]
            names.append((prefix + b"/" + name if prefix else name).decode("utf-8", "surrogateescape"))
            offsets.append(data)
            sizes.append(size)
            offset = data + -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


class MemberIndex:
    """A shard's member index in numpy arrays: name -> (data offset, size), in tar order.

    Arrays, not a dict of Python objects: DataLoader workers forked after the index is built
    share its pages instead of copying them as they read (refcount writes), so one index per
    shard serves every worker.
    """

    def __init__(self, names: list[str], offsets: list[int], sizes: list[int]) -> None:
        self._names = np.array([n.encode() for n in names], dtype=bytes)
        self._order = np.argsort(self._names, kind="stable")
        self._sorted = self._names[self._order]
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._sizes = np.asarray(sizes, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return (n.decode() for n in self._names)

    def position(self, name: str) -> int:
        """The member's position in the tar; KeyError when absent."""
        key = name.encode()
        at = int(np.searchsorted(self._sorted, key))
        if at == len(self._sorted) or self._sorted[at] != key:
            raise KeyError(name)
        return int(self._order[at])

    def __contains__(self, name: object) -> bool:
        try:
            self.position(str(name))
        except KeyError:
            return False
        return True

    def __getitem__(self, name: str) -> tuple[int, int]:
        at = self.position(name)
        return int(self._offsets[at]), int(self._sizes[at])


class _Handles:
    """Open read handles of this process, at most ``limit`` (least recently used closed first),
    so a job reading thousands of shards stays under the open-file limit."""

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._open: OrderedDict[Path, io.BufferedReader] = OrderedDict()
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def get(self, path: Path) -> io.BufferedReader:
        with self._lock:
            return self._get(path)

    def _get(self, path: Path) -> io.BufferedReader:
        if self._pid != os.getpid():  # a forked child: the parent's handles share file offsets
            self._open = OrderedDict()
            self._pid = os.getpid()
        handle = self._open.pop(path, None)
        if handle is None:
            handle = open(path, "rb")  # noqa: SIM115 - kept open for reuse
            while len(self._open) >= self.limit:
                self._open.popitem(last=False)[1].close()
        self._open[path] = handle
        return handle


_HANDLES = _Handles()


class TarShard:
    """Random access to the members of one tar shard by name.

    The member index (``MemberIndex``) is built on first use, once: build it before forking
    DataLoader workers and they share it. File handles are opened lazily per process (a
    bounded pool), so instances can be sent to worker processes.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._index: MemberIndex | None = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "_index": self._index}

    @property
    def index(self) -> MemberIndex:
        """Member name -> (data offset, size)."""
        if self._index is None:
            if not self.path.is_file():
                raise FileNotFoundError(f"synthetic shard {str(self.path)!r} does not exist")
            found = plain_ustar_members(self.path)
            if found is None:  # another tar dialect, or damaged: tarfile reads it or says why
                found = tarfile_members(self.path)
            names, offsets, sizes, end = found
            if self.path.stat().st_size < end + END_MARKER:
                raise ShardError(f"synthetic shard {str(self.path)!r} is truncated (no end-of-archive "
                                 f"marker after byte {end}); {REMAKE}")
            self._index = MemberIndex(names, offsets, sizes)
        return self._index

    def names(self) -> list[str]:
        return list(self.index)

    def read(self, name: str) -> bytes:
        """The bytes of member ``name``; KeyError names the shard when it is absent."""
        try:
            offset, size = self.index[name]
        except KeyError:
            raise KeyError(f"{name!r} is not in shard {str(self.path)!r}") from None
        data = os.pread(_HANDLES.get(self.path).fileno(), size, offset)  # no shared file position
        if len(data) != size:
            raise ShardError(f"synthetic shard {str(self.path)!r} is truncated: member {name!r} has "
                             f"{len(data)} of {size} bytes; {REMAKE}")
        return data

    def image(self, name: str) -> Image.Image:
        """Member ``name`` decoded as an RGB image, whichever of ``IMAGE_FORMATS`` it is."""
        data = self.read(name)
        try:
            with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS.values())) as im:
                return im.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise ShardError(f"member {name!r} of synthetic shard {str(self.path)!r} is not a readable "
                             f"{'/'.join(IMAGE_FORMATS)} image ({exc}); {REMAKE}") from exc
