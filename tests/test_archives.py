"""grader/intake/archives.py: a submitted zip is unpacked without trusting it."""
from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.intake.archives import MAX_RATIO, ArchiveError, safe_extract

MB = 2 ** 20


def make_zip(path: Path, members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def extract(tmp_path, archive, *, max_bytes=50 * MB, max_files=100):
    target = tmp_path / "target"
    target.mkdir(exist_ok=True)
    return target, safe_extract(archive, target, max_bytes=max_bytes, max_files=max_files)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_normal_zip_is_unpacked(tmp_path):
    archive = make_zip(tmp_path / "hw.zip", {"hw/solution.ipynb": b"{}", "hw/data/log.jsonl": b'{"a": 1}\n',
                                             "hw/empty/": b"", "__MACOSX/hw/._solution.ipynb": b"junk"})
    target, written = extract(tmp_path, archive)
    assert sorted(str(p.relative_to(target)) for p in written) == ["hw/data/log.jsonl", "hw/solution.ipynb"]
    assert (target / "hw" / "data" / "log.jsonl").read_bytes() == b'{"a": 1}\n'
    assert not (target / "__MACOSX").exists()


@pytest.mark.parametrize("name", ["../evil.py", "hw/../../evil.py", "/etc/evil.py", "..\\evil.py",
                                  "C:/evil.py", "c:evil.py"])
def test_members_escaping_the_target_are_refused(tmp_path, name):
    archive = make_zip(tmp_path / "slip.zip", {"ok.py": b"x = 1\n", name: b"import os\n"})
    before = tree(tmp_path)
    with pytest.raises(ArchiveError, match="points outside the archive"):
        extract(tmp_path, archive)
    after = [p for p in tree(tmp_path) if not p.startswith("target")]
    assert after == [p for p in before], "something was written outside the target"
    assert not (tmp_path / "evil.py").exists()


def test_symbolic_link_members_are_refused(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("passwd")
        info.create_system = 3  # unix
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="'passwd' is a symbolic link"):
        extract(tmp_path, archive)
    assert not os.path.lexists(tmp_path / "target" / "passwd")


def test_a_bomb_is_caught_by_its_compression_ratio(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(20 * MB)})
    assert archive.stat().st_size < 20 * MB / MAX_RATIO
    with pytest.raises(ArchiveError, match="'zeros.bin' expands .*x; this looks like a zip bomb"):
        extract(tmp_path, archive)
    assert not (tmp_path / "target" / "zeros.bin").exists()


def test_a_bomb_is_caught_by_its_total_size(tmp_path):
    # each member compresses modestly (random bytes, ratio about 1), but together they are too big
    archive = make_zip(tmp_path / "big.zip", {f"part{i}.bin": os.urandom(MB) for i in range(3)},
                       compression=zipfile.ZIP_STORED)
    with pytest.raises(ArchiveError, match="unpacks to more than 2 MB"):
        extract(tmp_path, archive, max_bytes=2 * MB)
    written = sum(p.stat().st_size for p in (tmp_path / "target").rglob("*") if p.is_file())
    assert written <= 2 * MB


def test_small_files_that_compress_well_are_fine(tmp_path):
    # a 1 MB log of one repeated line compresses far beyond the ratio, but small files are allowed
    archive = make_zip(tmp_path / "log.zip", {"train.log": b"epoch 1 loss 0.5\n" * 60_000})
    target, _ = extract(tmp_path, archive)
    assert (target / "train.log").stat().st_size == 17 * 60_000


def test_too_many_files(tmp_path):
    archive = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(5)})
    with pytest.raises(ArchiveError, match="holds 5 files; at most 3"):
        extract(tmp_path, archive, max_files=3)


def test_not_a_zip(tmp_path):
    fake = tmp_path / "hw.zip"
    fake.write_text("this is a notebook, renamed")
    with pytest.raises(ArchiveError, match="the zip file could not be read"):
        extract(tmp_path, fake)
