"""Unpacking a submitted zip without trusting it.

Rejects members that escape the target (absolute paths, `..`, drive letters), symlinks, and
archives whose unpacked size, file count or compression ratio is out of bounds. Sizes are
checked while reading, not believed from the header.
"""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_RATIO = 200  # a zip bomb compresses far better than any notebook or log


class ArchiveError(ValueError):
    """The archive is unsafe or unreadable; the message says why."""


def safe_extract(archive: Path, target: Path, *, max_bytes: int, max_files: int) -> list[Path]:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise ArchiveError(f"the zip file could not be read ({e})") from None
    written: list[Path] = []
    total = 0
    with zf:
        members = zf.infolist()
        if len(members) > max_files:
            raise ArchiveError(f"the zip holds {len(members)} files; at most {max_files} are accepted")
        for info in members:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                raise ArchiveError(f"the zip member {info.filename!r} points outside the archive (zip slip); rejected")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"the zip member {info.filename!r} is a symbolic link; links are not accepted")
            if info.is_dir() or any(p.startswith("__MACOSX") for p in parts):
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20:
                raise ArchiveError(f"the zip member {info.filename!r} expands {info.file_size // info.compress_size}x; "
                                   "this looks like a zip bomb")
            dest = target.joinpath(*parts)
            if target.resolve() not in dest.resolve().parents:
                raise ArchiveError(f"the zip member {info.filename!r} points outside the archive; rejected")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    total += len(chunk)
                    if total > max_bytes:
                        raise ArchiveError(f"the zip unpacks to more than {max_bytes // 2**20} MB; "
                                           "this looks like a zip bomb")
                    out.write(chunk)
            written.append(dest)
    return written
