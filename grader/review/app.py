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
import threading
from pathlib import Path

from flask import Flask, abort, flash, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from grader.core.errors import ToolkitError
from grader.records.decisions import Decision, DecisionError, Decisions, checked, final_score, now
from grader.reports.markdown import scrub_paths, shows_details
from grader.reports.reviewed import republish
from grader.review.batch import FILTERS, SORTS, chosen, entries, pair_verdicts
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
    who = reviewer or _user()
    # one rewrite of the folder's files at a time: two tabs saving at once each rewrite grades.csv from
    # the gradebook, and the later rewrite must not be one that read it before the other's decision
    publishing = threading.Lock()

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

    @app.context_processor
    def shared() -> dict:
        return {"csrf": access.csrf, "csrf_field": CSRF_FIELD, "reviewer": who, "folder": folder.out}

    def state():
        """Rows, the current decisions, the review state and every submission's score after review."""
        rows = folder.rows()
        spec = folder.spec()
        manual = list(spec.manual) if spec is not None else []
        with Decisions(folder.gradebook_path) as book:
            decisions, reviewed = book.all(), book.reviewed()
        finals = {r.submission: final_score(r, [d for d in decisions if r.submission in (d.submission, d.target)],
                                            manual) for r in rows}
        return rows, decisions, reviewed, finals, manual

    def listing(filter_name: str, sort: str):
        rows, decisions, reviewed, finals, _ = state()
        pairs = folder.flagged_pairs()
        every = entries(rows, finals, reviewed, pairs, decisions)
        return every, chosen(every, filter_name=filter_name, sort=sort), pairs, decisions

    @app.get("/")
    def batch() -> str:
        filter_name, sort = _view_args()
        every, shown, pairs, decisions = listing(filter_name, sort)
        return render_template("batch.html", entries=shown, total=len(every),
                               reviewed=sum(e.reviewed for e in every), filters=FILTERS, sorts=SORTS,
                               filter_name=filter_name, sort=sort, pairs=pairs,
                               verdicts={p.key: pair_verdicts(p, decisions) for p in pairs})

    @app.get("/s/<submission>")
    def submission(submission: str) -> str:
        filter_name, sort = _view_args()
        every, shown, _, _ = listing(filter_name, sort)
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
        flagged = _pair(kind, a, b)
        spec = folder.spec()
        rows = {r.submission: r for r in folder.rows()}
        regions, why = ([], folder.spec_problem) if spec is None else pair_regions(
            flagged, spec, Path(rows[a].source), Path(rows[b].source))
        with Decisions(folder.gradebook_path) as book:
            mine = [d for d in book.for_submission(a) if d.kind == "integrity" and {d.submission, d.target} == {a, b}]
        return render_template("pair.html", p=flagged, regions=regions, why=why, decision=mine[-1] if mine else None,
                               rows=rows)

    def record(decision: Decision, back: str) -> Response:
        rows, _, _, _, manual = state()
        try:
            decision = checked(decision, {r.submission: r for r in rows}, manual)
            with Decisions(folder.gradebook_path) as book:
                decision = book.record(decision)
        except DecisionError as e:
            flash(str(e), "error")
            return redirect(back)
        flash(f"saved: {_said(decision)}", "ok")
        publish([decision.submission] + ([decision.target] if decision.kind == "integrity" else []))
        return redirect(back)

    def publish(submissions: list[str]) -> None:
        """Rewrite the submissions' feedback, results.json and the tables with the decision just saved.
        The decision is in the gradebook whatever happens here; the next `grade` rewrites them too."""
        spec = folder.spec()
        if spec is None:
            flash(f"the folder's files were not rewritten: {folder.spec_problem}; the next `grade` will", "error")
            return
        try:
            with publishing:
                republish(spec, folder.out, submissions)
        except (OSError, ValueError, ToolkitError) as e:
            flash(f"saved in the gradebook, but the folder's files were not rewritten ({e}); "
                  "the next `grade` will", "error")

    def back_to(submission: str) -> str:
        filter_name, sort = _view_args(request.form)
        return url_for("submission", submission=submission, f=filter_name, sort=sort)

    @app.get("/decisions.csv")
    def export() -> Response:
        """Every current decision, as `dlgrade review OUT --export` writes it."""
        with tempfile.TemporaryDirectory(prefix="dlgrade-review-") as tmp, \
                Decisions(folder.gradebook_path) as book:
            book.export_csv(Path(tmp) / "decisions.csv")
            data = (Path(tmp) / "decisions.csv").read_bytes()
        return Response(data, mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="decisions.csv"'})

    @app.post("/s/<submission>/adjust")
    def adjust(submission: str) -> Response:
        points = _points(request.form.get("points", ""))
        return record(Decision(None, submission, "adjust", request.form.get("nodeid", ""), points, None,
                               request.form.get("student_text", ""), request.form.get("private_note", ""), who, now()),
                      back_to(submission))

    @app.post("/s/<submission>/rubric")
    def rubric(submission: str) -> Response:
        points = _points(request.form.get("points", ""))
        return record(Decision(None, submission, "rubric", request.form.get("item", ""), points, None,
                               request.form.get("student_text", ""), request.form.get("private_note", ""), who, now()),
                      back_to(submission))

    @app.post("/s/<submission>/comment")
    def comment(submission: str) -> Response:
        return record(Decision(None, submission, "comment", "", None, None, request.form.get("student_text", ""),
                               request.form.get("private_note", ""), who, now()), back_to(submission))

    @app.post("/s/<submission>/reviewed")
    def reviewed(submission: str) -> Response:
        if folder.row(submission) is None:
            abort(404)
        with Decisions(folder.gradebook_path) as book:
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
        _pair(kind, a, b)
        return record(Decision(None, a, "integrity", b, None, request.form.get("verdict") or None, "",
                               request.form.get("private_note", ""), who, now()),
                      url_for("pair", kind=kind, a=a, b=b))

    def _pair(kind: str, a: str, b: str):
        found = next((p for p in folder.flagged_pairs() if (p.kind, p.a, p.b) == (kind, a, b)), None)
        if found is None:
            abort(404)
        return found

    return app


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


def _said(d: Decision) -> str:
    what = {"adjust": f"{d.target} set to {d.points:g}" if d.points is not None else f"{d.target}: adjustment withdrawn",
            "rubric": f"rubric item {d.target}: {d.points:g}" if d.points is not None else
                      f"rubric item {d.target} awaits review again",
            "comment": "comment to the student", "integrity": f"pair {d.submission} / {d.target} {d.verdict}"}
    return what.get(d.kind, d.kind)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
