"""Unpacking a submitted zip without trusting it.

Rejects members that escape the target (absolute paths, `..`, drive letters), symlinks, and
archives whose unpacked size, file count or compression ratio is out of bounds. Sizes are
checked while reading, not believed from the header. Encrypted members, compression methods
Python cannot read (Deflate64 from Windows Explorer, ...) and damaged data (a bad CRC, a
truncated stream) are refused with a reason the student can act on.
"""
from __future__ import annotations

import bz2  # noqa: F401 - makes sure ZIP_BZIP2 members can be read
import lzma
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

MAX_RATIO = 200  # a zip bomb compresses far better than any notebook or log
READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
METHOD_NAMES = {9: "Deflate64", 6: "Implode", 1: "Shrink", 93: "Zstandard", 95: "XZ", 97: "WavPack", 98: "PPMd",
                99: "AES encryption"}
# what reading damaged member data raises, by compression method
DAMAGED = (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)
RECREATE = "zip the folder again with your system's own 'Compress' (or `zip -r`)"


class ArchiveError(ValueError):
    """The archive is unsafe or unreadable; the message says why."""


def safe_extract(archive: Path, target: Path, *, max_bytes: int, max_files: int) -> list[Path]:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:  # ValueError: undecodable names
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
            if info.flag_bits & 0x1:
                raise ArchiveError(f"the zip member {info.filename!r} is encrypted (password-protected); "
                                   "submit a zip without a password")
            if info.compress_type not in READABLE:
                method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
                raise ArchiveError(f"the zip member {info.filename!r} is compressed with {method}, which cannot "
                                   f"be read; {RECREATE}")
            dest = target.joinpath(*parts)
            if target.resolve() not in dest.resolve().parents:
                raise ArchiveError(f"the zip member {info.filename!r} points outside the archive; rejected")
            total = _write_member(zf, info, dest, total=total, max_bytes=max_bytes)
            written.append(dest)
    return written


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest, *, total: int, max_bytes: int) -> int:
    """Unpack one member to `dest`; the running total of bytes written comes back."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(dest, "wb") as out:
            while chunk := src.read(1 << 20):
                total += len(chunk)
                if total > max_bytes:
                    raise ArchiveError(f"the zip unpacks to more than {max_bytes // 2**20} MB; "
                                       "this looks like a zip bomb")
                out.write(chunk)
    except (NotImplementedError, RuntimeError) as e:  # a method or an encryption the checks above missed
        raise ArchiveError(f"the zip member {info.filename!r} cannot be read ({e}); {RECREATE}") from None
    except DAMAGED as e:
        if isinstance(e, OSError) and not isinstance(e, zipfile.BadZipFile) and e.filename:
            # ours, not the data's: a name too long for the file system, a file where a folder is
            raise ArchiveError(f"the zip member {info.filename!r} could not be unpacked "
                               f"({e.strerror or e}); rename it and zip again") from None
        raise ArchiveError(f"the zip member {info.filename!r} is damaged ({e}); the zip was corrupted on "
                           f"its way; {RECREATE} and submit it again") from None
    return total
