"""The review app's pages and forms (Flask, Jinja2 templates with autoescaping on).

Pages: `/` the batch, `/s/<id>` one submission, `/pair/<kind>/<a>/<b>` a flagged pair,
`/s/<id>/image/<name>` a picture of a submission's feedback, and `/decisions.csv` every current decision
(the CSV `dlgrade review OUT --apply` reads back). Forms post to the page they sit on and come back to
it (post, redirect, get): adjust a test, score a rubric item, comment to the student, mark reviewed,
confirm or clear a pair. Every decision goes through grader.records.decisions (one SQLite transaction
each, so two tabs saving at once lose nothing), then grader.reports.reviewed rewrites the files of the
submissions it concerns and the tables, so the folder follows the decision without a new `grade`.
grader.review.security checks every request before any of this runs.
"""
from __future__ import annotations

import getpass
import secrets
import tempfile
from pathlib import Path

from flask import Flask, abort, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from grader.core.errors import ToolkitError
from grader.records.decisions import Decision, Decisions, now
from grader.reports.markdown import scrub_paths, shows_details
from grader.review.actions import Review
from grader.review.batch import FILTERS, SORTS, pair_verdicts
from grader.review.folder import GradingFolder
from grader.review.pair_view import pair_regions
from grader.review.security import CSRF_FIELD, HEADERS, TOKEN_PARAM, Access
from grader.review.source_view import named_lines, read_submission

HERE = Path(__file__).resolve().parent


def create_app(folder: GradingFolder, access: Access, *, reviewer: str | None = None) -> Flask:
    """The app over `folder`, open to requests that carry `access`'s token (see grader.review.security)."""
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.secret_key = secrets.token_bytes(32)   # signs the flash messages' session cookie
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_NAME=access.cookie + "_session", MAX_CONTENT_LENGTH=64 * 1024)
    app.jinja_env.autoescape = True             # every template, whatever its name ends with
    review = Review(folder, reviewer or _user())
    _guard(app, access)

    @app.context_processor
    def shared() -> dict:
        return {"csrf": access.csrf, "csrf_field": CSRF_FIELD, "reviewer": review.who, "folder": folder.out}

    _add_pages(app, review)
    _add_forms(app, review)
    return app


def _guard(app: Flask, access: Access) -> None:
    """Every request checked before any page or form runs; every answer with the security headers."""
    @app.before_request
    def guard() -> Response | None:
        if not access.host_ok(request.host):
            abort(403, "this app answers only at its own address")
        given = request.args.get(TOKEN_PARAM)
        if given is not None:
            if not access.token_ok(given):
                abort(403, "wrong token")
            args = {k: v for k, v in request.args.items() if k != TOKEN_PARAM}
            response = redirect(url_for(request.endpoint, **(request.view_args or {}), **args)
                                if request.endpoint else "/")
            response.set_cookie(access.cookie, access.token, httponly=True, samesite="Strict")
            return response
        if not access.token_ok(request.cookies.get(access.cookie)):
            abort(403, "open the link `dlgrade review` printed (it carries the token)")
        if request.method != "GET":
            if not access.same_origin(request.headers.get("Origin"), request.headers.get("Referer")):
                abort(403, "a change must come from this app's own pages")
            if not access.csrf_ok(request.form.get(CSRF_FIELD)):
                abort(403, "the form's security field is missing or stale; reload the page")
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.update(HEADERS)
        return response

    @app.errorhandler(403)
    def refused(e) -> tuple[str, int]:
        return render_template("refused.html", why=e.description), 403

    @app.errorhandler(ToolkitError)
    def unusable(e: ToolkitError) -> tuple[str, int]:   # a gradebook that cannot be read (damaged, too new)
        return render_template("refused.html", why=str(e)), 503


def _add_pages(app: Flask, review: Review) -> None:
    """The pages (GET): the batch, a submission, its pictures, a flagged pair, the decisions as CSV."""
    folder = review.folder

    @app.get("/")
    def batch() -> str:
        filter_name, sort = _view_args()
        every, shown, pairs, decisions = review.listing(filter_name, sort)
        return render_template("batch.html", entries=shown, total=len(every),
                               reviewed=sum(e.reviewed for e in every), filters=FILTERS, sorts=SORTS,
                               filter_name=filter_name, sort=sort, pairs=pairs,
                               verdicts={p.key: pair_verdicts(p, decisions) for p in pairs})

    @app.get("/s/<submission>")
    def submission(submission: str) -> str:
        return _submission_page(review, submission)

    @app.get("/s/<submission>/image/<name>")
    def image(submission: str, name: str) -> Response:
        if folder.row(submission) is None:
            abort(404)
        found = folder.image(submission, name)
        if found is None:
            abort(404)
        return send_file(found[0], mimetype=found[1], max_age=0)

    @app.get("/pair/<kind>/<a>/<b>")
    def pair(kind: str, a: str, b: str) -> str:
        flagged = review.flagged_pair(kind, a, b)
        spec = folder.spec()
        rows = {r.submission: r for r in folder.rows()}
        regions, why = ([], folder.spec_problem) if spec is None else pair_regions(
            flagged, spec, Path(rows[a].source), Path(rows[b].source))
        with Decisions(folder.gradebook_path) as book:
            mine = [d for d in book.for_submission(a) if d.kind == "integrity" and {d.submission, d.target} == {a, b}]
        return render_template("pair.html", p=flagged, regions=regions, why=why, decision=mine[-1] if mine else None,
                               rows=rows)

    @app.get("/decisions.csv")
    def export() -> Response:
        """Every current decision, as `dlgrade review OUT --export` writes it."""
        with tempfile.TemporaryDirectory(prefix="dlgrade-review-") as tmp, \
                Decisions(folder.gradebook_path) as book:
            book.export_csv(Path(tmp) / "decisions.csv")
            data = (Path(tmp) / "decisions.csv").read_bytes()
        return Response(data, mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="decisions.csv"'})


def _submission_page(review: Review, submission: str) -> str:
    """One submission: its tests, code, pictures and decisions, with the previous and next in the batch's order."""
    folder = review.folder
    filter_name, sort = _view_args()
    every, shown, _, _ = review.listing(filter_name, sort)
    entry = next((e for e in every if e.id == submission), None)
    if entry is None:
        abort(404)
    order = [e.id for e in shown] if submission in {e.id for e in shown} else [e.id for e in every]
    at = order.index(submission)
    result = folder.result(submission)
    tests = {t.get("nodeid"): t for t in result.get("tests", []) if isinstance(t, dict)}
    texts = [result.get("reason", "")] + [str(n) for n in result.get("notes", [])]
    for t in tests.values():
        texts += [str(t.get("message", "")), str(t.get("detail", ""))] + [str(n) for n in t.get("notes", [])]
    spec = folder.spec()
    source = Path(entry.row.source) if entry.row.source else None
    files = (read_submission(source, spec, named_lines(texts)) if spec is not None and source is not None
             else None)
    with Decisions(folder.gradebook_path) as book:
        mine = book.for_submission(submission)
    return render_template(
        "submission.html", e=entry, result=result, tests=tests, files=files, spec_problem=folder.spec_problem,
        decisions={(d.kind, d.target): d for d in mine}, scrub=scrub_paths, shows_details=shows_details,
        images={t_id: [img for img in t.get("images", []) if isinstance(img, dict)
                       and folder.image(submission, str(img.get("file", "")))] for t_id, t in tests.items()},
        previous=order[at - 1] if at > 0 else None, next=order[at + 1] if at + 1 < len(order) else None,
        position=at + 1, count=len(order), filter_name=filter_name, sort=sort,
        verdicts={p.key: pair_verdicts(p, mine) for p in entry.pairs})


def _add_forms(app: Flask, review: Review) -> None:
    """The forms (POST): each posts to the page it sits on and comes back to it (post, redirect, get)."""
    who = review.who

    def back_to(submission: str) -> str:
        filter_name, sort = _view_args(request.form)
        return url_for("submission", submission=submission, f=filter_name, sort=sort)

    def from_form(submission: str, kind: str, target: str, points: float | None) -> Response:
        """The decision the form describes (its text for the student and private note), recorded."""
        return review.record(Decision(None, submission, kind, target, points, None, request.form.get("student_text", ""),
                                      request.form.get("private_note", ""), who, now()), back_to(submission))

    @app.post("/s/<submission>/adjust")
    def adjust(submission: str) -> Response:
        return from_form(submission, "adjust", request.form.get("nodeid", ""), _points(request.form.get("points", "")))

    @app.post("/s/<submission>/rubric")
    def rubric(submission: str) -> Response:
        return from_form(submission, "rubric", request.form.get("item", ""), _points(request.form.get("points", "")))

    @app.post("/s/<submission>/comment")
    def comment(submission: str) -> Response:
        return from_form(submission, "comment", "", None)

    @app.post("/s/<submission>/reviewed")
    def reviewed(submission: str) -> Response:
        if review.folder.row(submission) is None:
            abort(404)
        with Decisions(review.folder.gradebook_path) as book:
            if request.form.get("reviewed") == "yes":
                book.mark_reviewed(submission, who)
            else:
                book.mark_unreviewed(submission)
        if request.form.get("then") == "next" and request.form.get("next"):
            return redirect(url_for("submission", submission=request.form["next"], **dict(zip(
                ("f", "sort"), _view_args(request.form)))))
        return redirect(back_to(submission))

    @app.post("/pair/<kind>/<a>/<b>")
    def decide(kind: str, a: str, b: str) -> Response:
        review.flagged_pair(kind, a, b)
        return review.record(Decision(None, a, "integrity", b, None, request.form.get("verdict") or None, "",
                                      request.form.get("private_note", ""), who, now()),
                             url_for("pair", kind=kind, a=a, b=b))


def _view_args(source=None) -> tuple[str, str]:
    """The batch's filter and sort, from the query (or a form), unknown names replaced by the defaults."""
    source = request.args if source is None else source
    filter_name, sort = source.get("f", "all"), source.get("sort", "id")
    return (filter_name if filter_name in FILTERS else "all"), (sort if sort in SORTS else "id")


def _points(text: str) -> float | None:
    """A form's points: empty withdraws the decision; anything not a number is refused by the decision's check."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return float("nan")   # check_shape refuses it with its own message


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
