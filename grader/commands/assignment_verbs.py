"""The verbs that make or list assignments and what is handed out: `build` (templates from the
references), `new` (a skeleton), `release` (the student bundle), `gradescope` (an autograder zip) and
`list`. Each declares its arguments once; its command function is imported when it runs."""
from __future__ import annotations

from pathlib import Path

from grader.commands.verb import arg, verb
from grader.core.errors import EXIT_FAILED, EXIT_OK


@verb("build", help="regenerate the templates from the reference solutions",
      description="Strip the solution markers from reference_solutions/<name>/ and write "
                  "templates/<name>/<name>.ipynb and .py. Without a name: every assignment.",
      interrupted="templates already regenerated are kept; run build again to finish the rest",
      args=(arg("assignment", nargs="?", help="assignment name or folder (default: all)"),
            arg("--check", action="store_true", help="only report templates that are out of date (exit 1 if any)")))
def build(*, assignment: str | None, check: bool, as_json: bool) -> int:
    from grader.reports.terminal import print_json, render_checks
    from grader.scaffold.build import build_templates
    checks = build_templates(assignment=assignment, check_only=check)
    if as_json:
        print_json([c.__dict__ for c in checks])
    else:
        render_checks("templates", checks)
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED


def _spec_keys() -> str:
    """The spec's keys with their help, for `new --help` (one source: grader.core.spec)."""
    from grader.core.spec import describe_schema
    return "assignment.yaml keys:\n" + "\n".join(
        f"  {key}: {help}" + (f" (default {default})" if default else "") for key, default, help in describe_schema())


@verb("new", help="write a new assignment skeleton that validates",
      description="Write assignments/NAME (spec, README, one public and one hidden test), "
                  "reference_solutions/NAME/NAME.py with solution markers, and its template.",
      epilog=_spec_keys(),
      interrupted="some of the assignment's files may have been written; remove the folder or finish it by hand",
      args=(arg("name", help="lower_snake_case name"), arg("--title", help="the assignment's title")))
def new(*, name: str, title: str | None, as_json: bool) -> int:
    from grader.reports.terminal import console, print_json
    from grader.scaffold.new import new_assignment
    created = new_assignment(name=name, title=title)
    if as_json:
        print_json({"name": created.name, "files": [str(f) for f in created.files]})
    else:
        for f in created.files:
            console.print(f"[green]created[/] {f}")
        console.print(f"next: edit the files, then `python cli.py validate {created.name}`")
    return EXIT_OK


@verb("release", help="write the student bundle (no hidden tests, no reference)",
      description="Write OUT/NAME/ and OUT/NAME.zip: task README, template notebook and script, "
                  "public tests and the toolkit to run `python cli.py check`.",
      interrupted="the bundle may be incomplete; run release again (it rewrites the folder)",
      args=(arg("assignment", help="assignment name or folder"),
            arg("--out", type=Path, required=True, help="output folder")))
def release(*, assignment: str, out: Path, as_json: bool) -> int:
    from grader.reports.terminal import console, print_json
    from grader.scaffold.release import release_assignment
    rel = release_assignment(assignment=assignment, out=out)
    if as_json:
        print_json({"folder": str(rel.folder), "archive": str(rel.archive), "files": rel.files})
    else:
        console.print(f"[green]released[/] {rel.folder} ({len(rel.files)} files) and {rel.archive}")
    return EXIT_OK


@verb("gradescope", help="write a Gradescope autograder zip for an assignment",
      description="Write OUT/<name>_gradescope.zip: setup.sh (installs bubblewrap, CPU PyTorch and the toolkit) and "
                  "run_autograder (grades /autograder/submission with the public and hidden tests into "
                  "/autograder/results/results.json), with the toolkit and the assignment (no reference solution).",
      interrupted="the zip may be incomplete; run gradescope again (it rewrites it)",
      args=(arg("assignment", help="assignment name or folder"),
            arg("--out", type=Path, required=True, help="output folder"),
            arg("--mode", help="data mode to grade in (default: the spec's default_mode)"),
            arg("--key", type=Path, metavar="FILE", help="a course key file to put in the autograder (default: a new key)")))
def gradescope(*, as_json: bool, **options) -> int:
    from grader.reports.terminal import console, print_json
    from grader.scaffold.gradescope import gradescope_autograder
    bundle = gradescope_autograder(**options)
    if as_json:
        print_json({"archive": str(bundle.archive), "files": bundle.files})
    else:
        console.print(f"[green]wrote[/] {bundle.archive} ({len(bundle.files)} files); upload it as the "
                      "assignment's autograder (Configure Autograder → Zip file upload)")
    return EXIT_OK


@verb("list", help="list the assignments with their points and limits", interrupted="nothing was written")
def list_verb(*, as_json: bool) -> int:
    from grader.commands.listing import list_assignments
    from grader.reports.terminal import print_json, render_assignments
    rows = list_assignments()
    if as_json:
        print_json(rows)
    else:
        render_assignments(rows)
    return EXIT_OK
