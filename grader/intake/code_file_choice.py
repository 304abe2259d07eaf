"""Which file of a submission is graded: a folder often holds the untouched template beside the
solved file, or a helper module beside the notebook, so the spec's globs alone do not decide.

Separate from the workspace's assembly (grader.intake.workspace): a ranking of candidates by how
much of the spec's API each defines and implements, with a note saying why one was chosen.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from grader.core.spec import Spec
from grader.intake.api_coverage import api_coverage
from grader.intake.notebooks import decode_text, notebook_to_source, read_notebook
from grader.intake.source_limits import parse_bounded
from grader.intake.submission_files import IGNORED, MODULE_FILE


def _api_names(spec: Spec) -> list[tuple[str, str | None]]:
    """'Autoencoder.encode(x)' -> ("Autoencoder", "encode"); 'train(model, ...)' -> ("train", None)."""
    out = []
    for entry in spec.api:
        m = re.match(r"\s*([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?", str(entry))
        if m and (m.group(1), m.group(2)) not in out:
            out.append((m.group(1), m.group(2)))
    return out


def _coverage(path: Path, api) -> tuple[set[str], set[str]]:
    """What of the API a candidate code file defines and implements; nothing for one that cannot be read."""
    try:
        raw = path.read_bytes()
        if path.suffix.lower() == ".ipynb":
            text = notebook_to_source(read_notebook(raw)).source
        else:
            text = decode_text(raw)[0]
        return api_coverage(parse_bounded(text, path.name), api)
    except Exception:  # noqa: BLE001 - a file that cannot be read is reported if it is picked, not here
        return set(), set()


def pick_code(folder: Path, spec: Spec, notes: list[str]) -> Path | None:
    """The file that defines the spec's API: a folder often holds the untouched template beside the
    solved file, or a helper module beside the notebook. Most API names defined first, then most
    implemented (not a `raise NotImplementedError` stub), then the file edited last, then the
    shallowest, then the order of the spec's globs."""
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MODULE_FILE
             and not any(part in IGNORED for part in p.relative_to(folder).parts)]
    candidates: list[tuple[Path, int]] = []
    for order, pattern in enumerate(spec.submission.code):
        # a glob with a folder in it ('hw2/*.ipynb') matches the path inside the submission
        if "/" in pattern:
            matches = [p for p in files if fnmatch.fnmatch(p.relative_to(folder).as_posix(), pattern)]
        else:
            matches = [p for p in files if fnmatch.fnmatch(p.name, pattern)]
        candidates += [(p, order) for p in matches if p not in {c for c, _ in candidates}]
    if len(candidates) <= 1:
        return candidates[0][0] if candidates else None
    api = _api_names(spec)
    scored = []
    for path, order in candidates:
        defined, implemented = _coverage(path, api) if api else (set(), set())
        # zip members carry 2-second times: closer than that is a tie
        scored.append(((-len(defined), -len(implemented), -int(path.stat().st_mtime // 2),
                        len(path.relative_to(folder).parts), order, str(path)), path, defined, implemented))
    scored.sort(key=lambda s: s[0])
    best, runner_up = scored[0], scored[1]

    def summary(defined, implemented) -> str:
        if not api:
            return ""
        names = sorted(defined) or ["none"]
        return f"defines {', '.join(names)} of the API, implements {len(implemented)} of {len(api)} parts"

    def rel(path: Path) -> str:
        return path.relative_to(folder).as_posix()
    same_api = runner_up[0][:2] == best[0][:2]
    why = "edited last" if same_api and runner_up[0][2] != best[0][2] else "the first match" if same_api else ""
    others = "; ".join(f"{rel(p)} ({summary(d, i) or 'not the first match'})" for _, p, d, i in scored[1:6])
    more = f" and {len(scored) - 6} more" if len(scored) > 6 else ""
    graded = ", ".join(x for x in (summary(best[2], best[3]), why) if x)
    notes.append(f"several code files: graded {rel(best[1])} ({graded}); not graded: {others}{more}")
    return best[1]
