"""`validate`: an assignment is consistent and its tests discriminate.

The reference solution must earn full marks; the template must earn no points without breaking
the grader; the templates must be up to date; the spec's points must match the tests' plus the manual
rubric items', in every data mode (a test marked for some modes only counts in those; manual items count
in all); the grading environment's packages
(the spec's `environment`) must import in a worker, and cover what the reference imports.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from grader.core.assignments import (find_assignment, marked_points, points_in_mode, reference_file, reference_submission,
                                template_dir)
from grader.scaffold.build import Check, build_templates
from grader.trusted.course_key import new_key
from grader.scaffold.environment import missing_in_worker, undeclared_imports
from grader.grading.runner import RunOptions, grade_submission, prepare, require_data
from grader.boundary.sandbox import DEFAULT_SANDBOX, require_isolation
from grader.core.results import NOT_FULL, SubmissionStatus, TestStatus
from grader.core.vocabulary import TestKind


def _mode_points(spec, tests) -> list[str]:
    """Modes whose maximum in the spec differs from the points of the tests that run in them."""
    wrong = []
    for name in spec.modes:
        got = points_in_mode(tests, name) + spec.manual_points   # manual items are on every mode's scale
        if abs(got - spec.max_points(name)) > 1e-9:
            manual = f" + manual {spec.manual_points:g}" if spec.manual else ""
            wrong.append(f"{name}: spec {spec.max_points(name):g}, its tests {got - spec.manual_points:g}{manual} "
                         f"(set modes.{name}.points: {got:g})")
    return wrong


def points_checks(spec) -> list[Check]:
    """The scale adds up: every test has points, and the spec's points (in total and per mode) are the
    tests' plus the manual rubric items'."""
    tests, missing = marked_points(spec)
    total = sum(p for _, p, _ in tests)
    checks = [Check("every test has @pytest.mark.points", not missing, ", ".join(missing) or "yes")]
    checks.append(Check("spec points = sum of test points + manual rubric items",
                        abs(total + spec.manual_points - spec.points) < 1e-9,
                        f"spec {spec.points:g}, tests {total:g}"
                        + (f", manual {spec.manual_points:g} ({', '.join(f'{i.id} {i.points:g}' for i in spec.manual)})"
                           if spec.manual else "")))
    wrong = _mode_points(spec, tests)
    checks.append(Check("each mode's points = the points of the tests that run in it + manual", not wrong,
                        "; ".join(wrong) or ", ".join(f"{m} {spec.max_points(m):g}" for m in spec.modes)))
    return checks


def validate_assignment(*, assignment: str | Path, mode: str | None = None, data_dir: Path | None = None,
                        sandbox: str = DEFAULT_SANDBOX, threads: int = 2) -> list[Check]:
    """Run every check; return them all (the caller decides the exit code from `ok`)."""
    spec = find_assignment(assignment)
    require_data(spec, mode, data_dir)  # before anything runs: a full mode without its data is a usage error
    checks: list[Check] = points_checks(spec)
    drift = [c for c in build_templates(assignment=spec.path, check_only=True) if not c.ok]
    checks.append(Check("templates are up to date", not drift, ", ".join(c.name for c in drift) or "yes"))
    template_py = template_dir(spec) / f"{spec.name}.py"
    if template_py.exists():
        text = template_py.read_text(encoding="utf-8")
        absent = [sig for sig in spec.api if sig.split("(")[0].split(".")[-1] not in text]
        checks.append(Check("the template has the student API", not absent, ", ".join(absent) or "yes"))
    undeclared = undeclared_imports(spec, reference_file(spec))
    checks.append(Check("environment.packages covers the reference's imports", not undeclared,
                        (f"add {', '.join(undeclared)} to environment.packages" if undeclared else "yes")))
    missing = missing_in_worker(spec, isolation=require_isolation(sandbox))
    checks.append(Check("the grading environment imports in the worker", not missing,
                        "; ".join(f"{name}: {error}" for name, error in missing.items())[:600]
                        or ", ".join(spec.environment.packages)))

    # a new course key on every run: the reference must earn full marks whatever data the key draws
    options = RunOptions(mode=mode, data_dir=data_dir, include_hidden=True, sandbox=sandbox, threads=threads,
                         course_key=new_key())
    options = prepare(spec, options)  # once for the reference and the template
    with tempfile.TemporaryDirectory(prefix="dlgrade-ref-") as tmp:
        ref = grade_submission(spec, reference_submission(spec, mode, Path(tmp)), options)
    # a test for another data mode is skipped by design; any other skip (missing data) is a failure
    skipped = [t.name for t in ref.tests if t.status == TestStatus.SKIPPED and not t.other_mode]
    lost = [f"{t.name}: {t.message.splitlines()[0] if t.message else t.kind}" for t in ref.tests
            if t.status in NOT_FULL]
    checks.append(Check("the reference earns full marks", ref.status == SubmissionStatus.GRADED and not lost and not skipped
                        and ref.score == ref.max_score,
                        f"{ref.score:g}/{ref.max_score:g} in {ref.duration:.0f} s" + (f"; lost: {'; '.join(lost)[:600]}" if lost else "")
                        + (f"; skipped: {', '.join(skipped)[:300]}" if skipped else "")
                        + (f"; {ref.reason}" if ref.status != SubmissionStatus.GRADED else "")))
    template_nb = template_dir(spec) / f"{spec.name}.ipynb"
    if template_nb.exists():
        tpl = grade_submission(spec, template_nb, options)
        errors = [t.name for t in tpl.tests if t.kind == TestKind.GRADER_ERROR] + tpl.grader_errors
        earned = [f"{t.name} ({t.score:g})" for t in tpl.tests if t.score > 0]
        checks.append(Check("the template earns no points", tpl.score == 0 and tpl.status in (SubmissionStatus.GRADED,),
                            f"{tpl.score:g} points" + (f" from {', '.join(earned)}" if earned else "")
                            + (f"; {tpl.reason}" if tpl.status != SubmissionStatus.GRADED else "")))
        checks.append(Check("the template does not break the grader", not errors,
                            ", ".join(errors)[:300] or f"{len(tpl.tests)} tests ran, {tpl.duration:.0f} s"))
    else:
        checks.append(Check("the template exists", False, f"{template_nb} missing: run `dlgrade build {spec.name}`"))
    return checks
