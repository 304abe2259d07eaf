"""A cloned repository as a submission: which commit to grade, and how far to trust its date.

The graded commit is the last one on the clone's HEAD handed in on time (by the deadline plus the
grace period); when none is, the last one the late policy still accepts; when none is, the last one,
which is then "not accepted". Later commits are listed as not graded.

A commit's date is written by the student's own git, so it proves nothing: a commit dated before its
parent, or after the repository was cloned, is flagged for the instructor. Where the instructor gives a
push log exported from the hosting service (CSV: repo, sha, pushed_at), a commit counts as handed in
when the first push containing it arrived, and a commit in no push was not handed in at all.

Threats: the repository is the student's. Its config can name commands (hooks, fsmonitor, filter
drivers, a pager), its trees can hold `../` or `.git` paths, links and huge blobs. So: git runs with no
system or global config, hooks pointed at /dev/null, no replace objects, no pager and no prompts; only
plumbing that runs no filter (rev-list, ls-tree, cat-file); the commit's files are written by this
module, path by path, regular blobs only, within the submission's size caps. Nothing is written into
the repository.
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from grader.core.errors import SpecError, ToolkitError
from grader.core.spec import Submission, parse_time
from grader.intake.csv_exports import read_csv_export

GIT_TIMEOUT_S = 60
SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
PUSH_REPO_COLUMNS = ("repo", "repository", "repo_name", "full_name")
PUSH_SHA_COLUMNS = ("sha", "commit", "after", "head_sha", "commit_sha")
PUSH_TIME_COLUMNS = ("pushed_at", "pushed", "created_at", "time", "date")


class GitError(Exception):
    """A repository git could not read; the message names it."""


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    committed_at: datetime     # the committer date, as the student's git wrote it
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]

    def line(self, when: datetime | None = None) -> str:
        """`abc1234 2026-03-16T10:00:00+01:00 subject` for the feedback's "not graded" list."""
        return f"{self.short} {(when or self.committed_at).isoformat()} {self.subject[:80]}"


def is_repository(path: Path) -> bool:
    """A folder with a `.git` folder of its own (a `.git` file or link could point at another student's)."""
    dot_git = path / ".git"
    return path.is_dir() and not path.is_symlink() and dot_git.is_dir() and not dot_git.is_symlink()


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", "LC_ALL": "C",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0",
           "GIT_NO_REPLACE_OBJECTS": "1", "GIT_PAGER": "cat", "GIT_OPTIONAL_LOCKS": "0",
           "GIT_DIR": str(repo / ".git"), "GIT_WORK_TREE": str(repo)}
    # the repository's own config is read: override every key it could use to run a program here
    command = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "log.showSignature=false",
               "-c", "gpg.program=false", "-c", "gpg.ssh.program=false", "-c", "gpg.x509.program=false",
               "-c", f"safe.directory={repo}", "-c", "safe.directory=*", "--no-pager", *args]
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=GIT_TIMEOUT_S,
                              cwd=repo, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GitError(f"{repo.name}: git {args[0]} failed ({e})") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"{repo.name}: git {args[0]} failed: {(message or ['no message'])[-1][:200]}")
    return done.stdout


def read_history(repo: Path) -> list[Commit]:
    """The commits reachable from the clone's HEAD, oldest first by committer date (ties: git's order)."""
    raw = _git(repo, "log", "-z", "--format=%H%x1f%P%x1f%cI%x1f%s", "HEAD").decode("utf-8", "replace")
    commits = []
    for record in filter(None, raw.split("\0")):
        sha, parents, date, subject = (record.strip("\n").split("\x1f") + ["", "", "", ""])[:4]
        try:
            when = datetime.fromisoformat(date.replace("Z", "+00:00"))
        except ValueError:
            raise GitError(f"{repo.name}: commit {sha[:7]} has an unreadable date {date!r}") from None
        commits.append(Commit(sha, tuple(parents.split()), when, subject))
    commits.reverse()   # git log lists newest first in graph order; keep that order among equal dates
    return sorted(commits, key=lambda c: c.committed_at)


def suspicious_dates(commits: list[Commit], *, cloned_at: datetime | None) -> list[str]:
    """Commits whose date their own git cannot have written honestly: before a parent's, or after the clone."""
    by_sha = {c.sha: c for c in commits}
    flags = []
    for c in commits:
        earlier = [p for p in c.parents if p in by_sha and c.committed_at < by_sha[p].committed_at]
        if earlier:
            flags.append(f"commit {c.short} is dated {c.committed_at.isoformat()}, before its parent {earlier[0][:7]} "
                         f"({by_sha[earlier[0]].committed_at.isoformat()}): its date was set by hand or a wrong clock")
        if cloned_at is not None and c.committed_at > cloned_at:
            flags.append(f"commit {c.short} is dated {c.committed_at.isoformat()}, after the repository was cloned "
                         f"({cloned_at.isoformat()})")
    return flags


def contains(repo: Path, sha: str) -> set[str]:
    """The commits a push of `sha` delivered (it and its ancestors); empty when the clone lacks it."""
    if not SHA.match(sha):
        return set()
    try:
        return set(_git(repo, "rev-list", sha, "--").decode().split())
    except GitError:
        return set()


def push_times(repo: Path, pushes: list[tuple[str, datetime]]) -> dict[str, datetime]:
    """Commit -> when the first push containing it arrived, from this repository's push-log rows."""
    first: dict[str, datetime] = {}
    for sha, when in sorted(pushes, key=lambda p: p[1]):
        for commit in contains(repo, sha):
            first.setdefault(commit, when)
    return first


def read_push_log(path: Path) -> dict[str, list[tuple[str, datetime]]]:
    """The push log: repository name (last part of the path or URL, without `.git`) -> [(sha, pushed_at)].
    ToolkitError naming the file and line for what cannot be used."""
    header, reader = read_csv_export(path, "the push log")
    at = {name: next((header.index(c) for c in columns if c in header), None)
          for name, columns in (("repo", PUSH_REPO_COLUMNS), ("sha", PUSH_SHA_COLUMNS), ("time", PUSH_TIME_COLUMNS))}
    if None in at.values():
        raise ToolkitError(f"{path}: the push log needs columns repo, sha and pushed_at (or: "
                           f"{', '.join(PUSH_REPO_COLUMNS + PUSH_SHA_COLUMNS + PUSH_TIME_COLUMNS)}); "
                           f"its header is {', '.join(header) or 'empty'}")
    log: dict[str, list[tuple[str, datetime]]] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) <= max(at.values()):
            raise ToolkitError(f"{path}, line {number}: fewer cells than the header")
        sha = cells[at["sha"]].strip().casefold()
        if not SHA.match(sha):
            raise ToolkitError(f"{path}, line {number}: {cells[at['sha']]!r} is not a full commit hash")
        try:
            when = parse_time(cells[at["time"]], f"{path}, line {number}, pushed_at")
        except SpecError as e:
            raise ToolkitError(str(e)) from None
        log.setdefault(repo_key(cells[at["repo"]]), []).append((sha, when))
    return log


def repo_key(name: str) -> str:
    """`https://github.com/course/hw2-alice.git`, `course/hw2-alice` and `hw2-alice` -> `hw2-alice`."""
    last = name.strip().rstrip("/").replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last.removesuffix(".git").casefold()


def clone_time(repo: Path) -> datetime:
    """When the repository was cloned, as well as the files tell: the newest of `.git`'s own times."""
    dot_git = repo / ".git"
    stamps = [p.stat().st_mtime for p in (dot_git, dot_git / "HEAD", dot_git / "index") if p.exists()]
    return datetime.fromtimestamp(max(stamps), tz=timezone.utc)


def export_commit(repo: Path, sha: str, dest: Path, limits: Submission) -> list[str]:
    """Write the files of commit `sha` under `dest` (created); returns notes on what was left out.
    Raises GitError when git cannot read it or the commit is larger than the submission's caps."""
    listing = _git(repo, "ls-tree", "-r", "-l", "-z", "--full-tree", sha).split(b"\0")
    notes, blobs, total = [], [], 0
    for entry in filter(None, listing):
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, size = (meta.split() + [b"", b"", b"", b""])[:4]
        rel = raw_path.decode("utf-8", "replace")
        parts = PurePosixPath(rel).parts
        if not parts or rel.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts) or "\\" in rel:
            notes.append(f"{rel!r}: not a plain path inside the repository; skipped")
            continue
        if kind != b"blob" or mode not in (b"100644", b"100755"):
            what = "a submodule" if kind == b"commit" else "a symbolic link" if mode == b"120000" else "not a file"
            notes.append(f"{rel}: {what} in the commit; skipped")
            continue
        total += int(size)
        blobs.append((blob.decode(), rel))
        if total > limits.max_total_mb * 2 ** 20 or len(blobs) > limits.max_files:
            raise GitError(f"{repo.name}: commit {sha[:7]} is larger than {limits.max_total_mb} MB or "
                           f"{limits.max_files} files")
    dest.mkdir(parents=True, exist_ok=True)
    if not blobs:
        return notes
    out = _git(repo, "cat-file", "--batch", stdin="".join(f"{b}\n" for b, _ in blobs).encode())
    at = 0
    for blob, rel in blobs:   # "<sha> blob <size>\n<content>\n", in the order asked
        head_end = out.index(b"\n", at)
        head = out[at:head_end].split()
        if len(head) != 3 or head[1] != b"blob":
            raise GitError(f"{repo.name}: commit {sha[:7]}: {rel} cannot be read (the clone is incomplete)")
        size = int(head[2])
        data = out[head_end + 1: head_end + 1 + size]
        at = head_end + 1 + size + 1
        target = dest.joinpath(*PurePosixPath(rel).parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as e:   # a crafted tree: a name twice, a file where a folder goes
            raise GitError(f"{repo.name}: commit {sha[:7]}: {rel} cannot be written ({e.strerror})") from None
    return notes
