"""Self-contained HTML pages: `feedback.html` for each student and `summary.html` for the instructor.

Built with `string.Template`; every value that reaches a page goes through `html.escape` first
(`_e`), since test names, messages, reasons and ids can all carry text the student controls.
Pictures are embedded as base64 PNG data; the histogram and the bars are inline SVG and CSS drawn
from numbers only, so each page is one file that opens anywhere, offline. The layout holds from a
phone (390 px) to a laptop: tables wrap their text instead of widening the page, pictures shrink.
"""
from __future__ import annotations

import base64
import html
import re
import statistics
from collections import Counter
from string import Template
from typing import TYPE_CHECKING

from grader.intake.headline import reading_headline
from grader.reports.markdown import (KIND_TEXT, LEAD_LABEL, REVIEW_HEADING, common_cause, heading, hidden_outcome, note_text,
                             late_note, review_lines, score_line, scrub_paths, shows_details, useful_detail)
from grader.reports.late_work import DEADLINE_HEADING, deadline_lines, late_summary
from grader.records.decisions import FinalScore
from grader.records.gradebook import GradebookRow
from grader.core.results import NOT_FULL, SubmissionResult, SubmissionStatus, TestStatus
from grader.records.roster import RosterMatch
from grader.boundary.sandbox import LEVEL_TEXT, STRICT_LEVELS
from grader.reports.similarity import IntegrityReport, SimilarPair

if TYPE_CHECKING:   # batch_review builds on reviewed.py, which renders its pages with this module
    from grader.reports.batch_review import BatchReview

STATUS_TEXT = {"passed": "passed", "partial": "partial", "failed": "failed", "skipped": "skipped"}
SUSPECT_SHARE = 0.5   # this share of a batch (at least SUSPECT_MIN) failing identically: suspect the grader
SUSPECT_MIN = 3
GRADERS_FAULT = (SubmissionStatus.ERROR, "grader-error")  # the failures that may make the grader suspect

PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1040px;margin:1.5em auto;padding:0 1em;
color:#222;line-height:1.45;overflow-wrap:anywhere}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #eee}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.8em 0;width:100%}
th,td{border:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4;overflow-wrap:normal}td.num{text-align:right;white-space:nowrap}
td.nw{white-space:nowrap}td.id{min-width:7em}
.passed{color:#17803d}.partial{color:#a16207}.failed,.rejected,.timeout{color:#b91c1c}.skipped{color:#777}.error{color:#7e22ce}
pre{background:#f7f7f7;border:1px solid #e5e5e5;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}
code{overflow-wrap:anywhere}
.banner{border-left:4px solid #b91c1c;background:#fef2f2;padding:.6em 1em}.warn{border-left-color:#a16207;background:#fefce8}
.muted{color:#666}.small{font-size:.85em}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}img{max-width:100%;height:auto;display:block}
.score{font-size:1.5em;font-weight:700}.meter{background:#eee;border-radius:4px;height:.7em;max-width:28em}
.meter>div{background:#2563eb;height:100%;border-radius:4px}
.tiles{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:.5em .8em;min-width:9em;flex:1 1 9em}
.tile b{display:block;font-size:1.3em}
.bar{display:flex;align-items:center;gap:.4em}.bar>span{white-space:nowrap;font-size:.9em}
.bar>div{flex:1 1 auto;background:#eee;height:.8em;min-width:3em;border-radius:3px}
.bar>div>div{height:100%;border-radius:3px}
svg{max-width:100%;height:auto}
@media (max-width:600px){body{padding:0 .5em}td.id{min-width:0}th,td{padding:.3em}}
</style></head>
<body>
$body
</body></html>
""")

FEEDBACK = Template("""<h1>$title</h1>
<p class="muted">Feedback for <code>$submission</code> · data mode <strong>$mode</strong>$data</p>
<p class="score">Score: $score_line</p>
<div class="meter" role="img" aria-label="$percent % of the points"><div style="width:$percent%"></div></div>
$banner
$table
$review
$deadline
$hidden_note
$details
$notes
""")
BANNER = Template('<p class="banner"><strong>$status</strong>: $reason</p>')
TEST_ROW = Template('<tr><td>$name</td><td class="num">$score / $points</td><td class="$status">$result</td></tr>')
DETAIL = Template("<section><h3>$name</h3>\n$message\n$detail\n$notes\n$images</section>")
PRE = Template("<pre>$text</pre>")
FIGURE = Template('<figure><figcaption>$title</figcaption><img alt="$title" src="data:image/png;base64,$data">'
                  '</figure>')
ITEM = Template("<li>$text</li>")
LIST = Template("<ul>\n$items\n</ul>")
SECTION = Template("<h2>$title</h2>\n$content")

SUMMARY = Template("""<h1>$title</h1>
<p class="muted">$count submissions in the gradebook · data mode $modes · $statuses</p>
<p class="muted small">Isolation: $isolation</p>
$banner
<div class="tiles">$tiles</div>
$histogram
$reviewed
$tests
$failed
$failures
$times
$integrity
$roster
""")
TILE = Template('<div class="tile"><span class="muted small">$label</span><b>$value</b><span class="small">$note</span></div>')
TABLE = Template("<table><thead><tr>$head</tr></thead><tbody>\n$rows\n</tbody></table>")
TH = Template("<th>$text</th>")
TD = Template('<td class="$cls">$text</td>')
TR = Template("<tr>$cells</tr>")
BARCELL = Template('<div class="bar"><div><div style="width:$percent%;background:$color"></div></div>'
                   '<span>$text</span></div>')
SVG = Template('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 $width $height" width="$width" height="$height" '
               'role="img" aria-label="score histogram" style="font:12px sans-serif">\n$bars\n'
               '<line x1="40" y1="$axis_y" x2="$axis_x2" y2="$axis_y" stroke="#555"/>\n'
               '<line x1="40" y1="14" x2="40" y2="$axis_y" stroke="#555"/>\n$labels\n'
               '<text x="$mid" y="$xlabel_y" text-anchor="middle">score (points)</text>\n'
               '<text x="12" y="$mid_y" text-anchor="middle" transform="rotate(-90 12 $mid_y)">submissions</text>\n'
               '<text x="36" y="18" text-anchor="end">$top</text><text x="36" y="$axis_y" text-anchor="end">0</text>\n'
               '</svg>')
BAR = Template('<rect x="$x" y="$y" width="$w" height="$h" fill="#2563eb"><title>$tip</title></rect>'
               '<text x="$tx" y="$ty" text-anchor="middle">$count</text>')
LABEL = Template('<text x="$x" y="$y" text-anchor="middle">$text</text>')


def _e(value) -> str:
    """Escape anything for HTML text and attributes."""
    return html.escape(str(value), quote=True)


def _table(head: list[str], rows: list[list[tuple[str, str]]]) -> str:
    """rows: lists of (escaped cell html, css class)."""
    return TABLE.substitute(head="".join(TH.substitute(text=_e(h)) for h in head),
                            rows="\n".join(TR.substitute(cells="".join(TD.substitute(text=t, cls=c) for t, c in r))
                                           for r in rows))


def _list(items: list[str]) -> str:
    return LIST.substitute(items="\n".join(ITEM.substitute(text=_e(i)) for i in items)) if items else ""


def _bar(fraction: float, text: str, *, color: str = "#2563eb") -> str:
    return BARCELL.substitute(percent=f"{100 * max(0.0, min(1.0, fraction)):.1f}", color=color, text=_e(text))


def _pass_color(fraction: float) -> str:
    return "#17803d" if fraction >= 0.8 else "#ca8a04" if fraction >= 0.4 else "#b91c1c"


def feedback_html(result: SubmissionResult, *, title: str, images: dict[str, bytes],
                  after_due_date: bool = True, data: str = "", final: FinalScore | None = None) -> str:
    """One student's page: score, the test table, messages and pictures of the tests they may see.

    Tests whose visibility does not allow details show their name, points, the part of the task
    they cover and the kind of failure only. `data`: the graded mode's description. `final`: the
    review's decisions (grader.records.decisions.final_score): adjusted points, rubric items, comment."""
    rows, details, hidden = [], [], 0
    adjusted = {t.nodeid: t for t in final.adjusted} if final else {}
    cause = common_cause(result.tests)
    for t in result.tests:
        visible = shows_details(t.visibility, after_due_date=after_due_date)
        outcome = STATUS_TEXT.get(t.status, t.status)
        if not visible and t.status not in (TestStatus.PASSED, TestStatus.SKIPPED):
            outcome += f" ({hidden_outcome(t)})"
        score = t.score
        if t.nodeid in adjusted:
            score, outcome = adjusted[t.nodeid].score, outcome + " (adjusted by your instructor)"
        rows.append(TEST_ROW.substitute(name=_e(t.name), score=_e(f"{score:g}"), points=_e(f"{t.points:g}"),
                                        status=_e(t.status), result=_e(outcome)))
        if not visible:
            hidden += 1
            continue
        if t.status == TestStatus.PASSED and not (t.images or t.notes):
            continue
        figures = "".join(FIGURE.substitute(title=_e(img.get("title", "")),
                                            data=base64.b64encode(images[img["file"]]).decode())
                          for img in t.images if img.get("file") in images)
        message = "" if cause and t.message.strip() == cause else scrub_paths(t.message.strip())
        detail = useful_detail(t.detail) if t.status != TestStatus.PASSED and not cause else ""
        if not (message or detail or t.notes or figures):
            continue   # its message is the one reason above
        details.append(DETAIL.substitute(
            name=_e(t.name), message=PRE.substitute(text=_e(message)) if message else "",
            detail=PRE.substitute(text=_e(detail)) if detail else "",
            notes=_list([scrub_paths(n) for n in t.notes]), images=figures))
    lead = reading_headline(result.notes, result.tests)
    if result.reason and result.status != SubmissionStatus.GRADED:
        banner = BANNER.substitute(status=_e(result.status.upper()), reason=_e(scrub_paths(result.reason)))
    else:
        banner = BANNER.substitute(status=_e(LEAD_LABEL), reason=_e(scrub_paths(lead))) if lead else ""
        if cause:
            first = next(t for t in result.tests if t.status == TestStatus.FAILED and t.visibility == "visible")
            banner += BANNER.substitute(status="Every test failed for one reason", reason=_e(cause))
            if useful_detail(first.detail):
                banner += PRE.substitute(text=_e(useful_detail(first.detail)))
    if result.tests:
        table = TABLE.substitute(head="<th>Test</th><th>Points</th><th>Result</th>", rows="\n".join(rows))
    else:
        table = "<p>No test ran: the reason above is why. Fix it and run <code>check</code> again.</p>"
    score, max_score = (final.score, final.max_score) if final else (result.after_late_policy()[0], result.max_score)
    percent = 100 * score / max_score if max_score else 0.0
    review = review_lines(final)
    deadline = deadline_lines(result.late, note=late_note(result, final))
    body = FEEDBACK.substitute(
        title=_e(heading(title)), submission=_e(result.submission), mode=_e(result.mode),
        data=f": {_e(data)}" if data else "", score_line=_e(score_line(result, final)),
        percent=f"{percent:.0f}", banner=banner, table=table,
        review=SECTION.substitute(title=_e(REVIEW_HEADING), content=_list(review)) if review else "",
        deadline=SECTION.substitute(title=_e(DEADLINE_HEADING), content=_list(deadline)) if deadline else "",
        hidden_note=(f"<p class=\"muted\">{hidden} hidden test(s) are listed with their points only and, if they did "
                     "not pass, the part of the task they cover and the kind of failure.</p>" if hidden else ""),
        details=SECTION.substitute(title="Details", content="\n".join(details)) if details else "",
        notes=SECTION.substitute(title="How your submission was read",
                                 content=_list([note_text(n) for n in result.notes])) if result.notes else "")
    return PAGE.substitute(title=_e(f"{heading(title)}: {result.submission}"), body=body)


def histogram_svg(scores: list[float], *, max_score: float, bins: int = 10) -> str:
    """Counts of scores in `bins` equal ranges of [0, max_score], as an inline SVG with labelled axes."""
    max_score = max_score or max(scores, default=1.0) or 1.0
    if max_score <= 20 and float(max_score).is_integer():
        bins = int(max_score) + 1            # one bar per whole point
        edges = [(i - 0.5, i + 0.5) for i in range(bins)]
        names = [f"{i}" for i in range(bins)]
    else:
        step = max_score / bins
        edges = [(i * step, (i + 1) * step) for i in range(bins)]
        names = [f"{lo:g}" for lo, _ in edges]
    counts = [0] * bins
    for s in scores:
        i = next((j for j, (lo, hi) in enumerate(edges) if lo <= s < hi), bins - 1)
        counts[i] += 1
    slot = max(18, min(40, 600 // bins))
    bar = slot - 4
    width, height = 50 + slot * bins, 215
    top = max(counts, default=0) or 1
    bars, labels = [], []
    for i, (c, name) in enumerate(zip(counts, names)):
        h = round(140 * c / top)
        x = 42 + slot * i
        bars.append(BAR.substitute(x=x, y=160 - h, w=bar, h=h, tip=_e(f"{c} submission(s) at {name}"),
                                   tx=x + bar // 2, ty=155 - h, count=c if c else ""))
        labels.append(LABEL.substitute(x=x + bar // 2, y=176, text=_e(name)))
    return SVG.substitute(width=width, height=height, bars="\n".join(bars), axis_y=160, axis_x2=width - 4,
                          labels="\n".join(labels), mid=42 + slot * bins // 2, xlabel_y=200, mid_y=90, top=top)


def _test_stats(rows: list[GradebookRow]) -> str:
    stats: dict[str, dict] = {}
    for r in rows:
        for t in r.tests:
            s = stats.setdefault(t["nodeid"], {"name": t["name"], "points": t["points"], "visibility": t["visibility"],
                                               "ran": 0, "passed": 0, "score": 0.0})
            if t["status"] != TestStatus.SKIPPED:
                s["ran"] += 1
                s["passed"] += t["status"] == TestStatus.PASSED
                s["score"] += t["score"]
    table = []
    for nodeid, s in stats.items():
        rate = s["passed"] / s["ran"] if s["ran"] else 0.0
        table.append([(f'{_e(s["name"])}<br><span class="muted small">{_e(nodeid)} · {_e(s["visibility"])}</span>', ""),
                      (_bar(rate, f"{s['passed']}/{s['ran']} ({100 * rate:.0f} %)" if s["ran"] else "not run",
                            color=_pass_color(rate)), ""),
                      (_e(f"{s['score'] / s['ran']:.2f} / {s['points']:g}" if s["ran"] else f"– / {s['points']:g}"),
                       "num")])
    return SECTION.substitute(title="Pass rate per test", content=_table(
        ["test", "passed", "mean / points"], table) if table else "<p>No test ran.</p>")


def failure_reason(message: str) -> str:
    """A message with its particulars (numbers, quoted values, file names, paths) blanked, for
    grouping; what names the cause stays ("No module named 'keras'")."""
    text = scrub_paths(message.strip().splitlines()[0] if message.strip() else "")
    kept: list[str] = []

    def keep(m: re.Match) -> str:
        kept.append(m.group(0))
        return chr(0xE000 + len(kept) - 1)   # a private-use character: no later rule touches it

    text = re.sub(r"No module named '[\w.]+'|cannot import name '[\w.]+'", keep, text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\b[\w.-]+\.(py|ipynb|zip)\b", "<file>", text)
    text = re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", text)
    return re.sub("[\ue000-\uf8ff]", lambda m: kept[ord(m.group(0)) - 0xE000], text)[:160]


def _failure_groups(rows: list[GradebookRow]) -> dict[tuple, dict]:
    """(kind, reason) -> {"subs": submissions, "tests": test names}. A submission counts once per
    reason: one that was rejected, or whose every test failed for one reason (it could not be
    loaded), counts once, not once per test."""
    groups: dict[tuple, dict] = {}

    def add(kind: str, reason: str, test: str, submission: str) -> None:
        g = groups.setdefault((kind, reason), {"subs": {}, "tests": {}})
        g["subs"].setdefault(submission, None)
        g["tests"].setdefault(test, None)

    for r in rows:
        cause = common_cause(r.tests) if r.status == SubmissionStatus.GRADED else ""
        if r.status != SubmissionStatus.GRADED:
            add(r.status, failure_reason(r.reason), "(no test ran)", r.submission)
        elif cause:
            kind = next(t["kind"] for t in r.tests if t["status"] == TestStatus.FAILED)
            add(kind or "failed", failure_reason(cause), "(every test)", r.submission)
        else:
            for t in r.tests:
                if t["status"] in NOT_FULL:
                    add(t["kind"] or t["status"], failure_reason(t["message"]), t["name"], r.submission)
    return {k: {"subs": list(g["subs"]), "tests": list(g["tests"])} for k, g in groups.items()}


def suspect_banner(rows: list[GradebookRow], groups: dict[tuple, dict]) -> str:
    """A warning when many submissions failed in exactly the same way through the grader's own failure
    (status `error`, tests of kind `grader-error`): a missing package, data, a broken test. Students'
    own failures, however alike (a class that did not define the API, a file that does not load), never
    count: they say nothing about the grader."""
    whole = {k: g["subs"] for k, g in groups.items()
             if g["tests"] in (["(no test ran)"], ["(every test)"]) and k[0] in GRADERS_FAULT}
    if not whole or len(rows) < SUSPECT_MIN:
        return ""
    (kind, reason), subs = max(whole.items(), key=lambda kv: len(kv[1]))
    if len(subs) < max(SUSPECT_MIN, SUSPECT_SHARE * len(rows)):
        return ""
    return (f'<p class="banner"><strong>Suspect the grader:</strong> {len(subs)} of {len(rows)} submissions failed '
            f'in the same way ({_e(kind)}: {_e(reason)}). When most of a class fails identically, check the grading '
            "environment (packages, data, the tests) before reading it as the students' mistake.</p>")


def _failures(groups: dict[tuple, dict], n: int = 20) -> str:
    """The `n` reasons most submissions share; the rest are in grades.csv."""
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]["subs"]), kv[0]))

    def names(items: list, k: int) -> str:
        return ", ".join(items[:k]) + (f" … (+{len(items) - k})" if len(items) > k else "")

    table = [[(_e(len(g["subs"])), "num"), (f'<span class="muted small">{_e(kind)}</span><br>{_e(reason)}', ""),
              (_e(names(g["tests"], 3)), ""), (_e(names(g["subs"], 8)), "id")] for (kind, reason), g in ordered[:n]]
    more = (f'<p class="muted">… and {len(ordered) - n} rarer reason(s): every failure is in grades.csv and the '
            "feedback files.</p>" if len(ordered) > n else "")
    return SECTION.substitute(title="Failures grouped by reason", content=_table(
        ["count", "kind and reason", "tests", "who"], table) + more if table else "<p>None.</p>")


def _failed_submissions(rows: list[GradebookRow]) -> str:
    """The submissions that were not graded or earned nothing: the ones to look at first."""
    bad = sorted((r for r in rows if r.status != SubmissionStatus.GRADED or r.score <= 0), key=lambda r: (r.status, r.submission))
    if not bad:
        return SECTION.substitute(title="Failed submissions", content="<p>None: every submission earned points.</p>")
    table = [[(_e(r.submission), "id"), (_e(r.status), f"nw {_e(r.status)}"),
              (_e(f"{r.score:g} / {r.max_score:g}"), "num"),
              (_e(scrub_paths((common_cause(r.tests) or r.reason).strip().splitlines()[0] if r.reason else "")), "")]
             for r in bad]
    return SECTION.substitute(title=f"Failed submissions ({len(bad)})", content=_table(
        ["submission", "status", "score", "reason"], table))


def _times(rows: list[GradebookRow], n: int = 30) -> str:
    """Time per submission as bars, slowest first (the first `n`), with the batch's total and median."""
    if not rows:
        return ""
    durations = [r.duration for r in rows]
    slow = sorted(rows, key=lambda r: -r.duration)[:n]
    longest = slow[0].duration or 1.0
    table = [[(_e(r.submission), "id"), (_bar(r.duration / longest, f"{r.duration:.1f} s", color="#64748b"), ""),
              (_e(r.status), f"nw {_e(r.status)}")] for r in slow]
    head = (f'<p class="muted">total {sum(durations):.0f} s · median {statistics.median(durations):.1f} s · '
            f"slowest {longest:.1f} s" + (f" · the {n} slowest shown" if len(rows) > n else "") + "</p>")
    return SECTION.substitute(title="Slowest submissions: time per submission", content=head + _table(["submission", "time", "status"], table))


SIDE_BY_SIDE = Template('<details class="pair"><summary>$summary</summary>\n<table class="side"><thead><tr>'
                        '<th>$a</th><th>$b</th></tr></thead><tbody>\n$rows\n</tbody></table></details>')
REGION = Template('<tr><td><span class="muted small">$where_a</span><pre>$lines_a</pre></td>'
                  '<td><span class="muted small">$where_b</span><pre>$lines_b</pre></td></tr>')
REGION_STYLE = ("<style>.side{table-layout:fixed}.side pre{margin:.2em 0;font-size:.85em}"
                "mark{background:#fde68a}details.pair{margin:.5em 0}</style>")


def _marked(lines: list[tuple[str, bool]]) -> str:
    """A region's lines, escaped, the matched ones in <mark>."""
    return "\n".join(f"<mark>{_e(text)}</mark>" if matched else _e(text) for text, matched in lines)


def _side_by_side(p: SimilarPair) -> str:
    """One flagged pair: its matching regions, each side's lines beside the other's (MOSS's view)."""
    summary = _e(f"{p.a} and {p.b}: {p.kind}, {100 * p.similarity:.0f} %")
    rows = "\n".join(REGION.substitute(where_a=_e(r.where_a), where_b=_e(r.where_b), lines_a=_marked(r.lines_a),
                                        lines_b=_marked(r.lines_b)) for r in p.regions)
    return SIDE_BY_SIDE.substitute(summary=summary, a=_e(p.a), b=_e(p.b), rows=rows)


def _verdict(p: SimilarPair, review: BatchReview) -> str:
    """The pair's integrity decision in a few words: "confirmed (by X)", "cleared (by X)" or "open"."""
    decision = review.verdict(p.a, p.b)
    return f"{decision.verdict} (by {decision.who})" if decision is not None else "open"


def _integrity(report: IntegrityReport | None, review: BatchReview | None = None) -> str:
    if report is None:
        return ""
    flagged = report.flagged
    table = [[(f'{_e(p.a)}<br>{_e(p.b)}', "id"),
              (f'{_e(f"{100 * p.similarity:.0f} %")}<br><span class="muted small">{_e(p.kind)}, {_e(p.shared)} shared</span>',
               "num"), (_e(p.detail), "")] + ([(_e(_verdict(p, review)), "nw")] if review is not None else [])
             for p in flagged]
    content = (f"<p class=\"muted\">Pairs at or above {100 * report.threshold:.0f} % similarity "
               f"(code: winnowed {report.k}-gram fingerprints of the normalised syntax tree, window {report.w}, "
               "template code removed; logs: records matched with tolerances; write-ups: shared five-word runs, "
               "the assignment\u2019s text removed). Every pair is in integrity.csv.</p>")
    content += _table(["pair", "similarity", "detail"] + (["decision"] if review is not None else []), table) \
        if table else "<p>No pair above the threshold.</p>"
    shown = [p for p in flagged if p.regions]   # the most similar (similarity.MAX_EVIDENCE_PAIRS)
    if shown:
        content += (REGION_STYLE + "<h3>Matching regions, side by side</h3>"
                    + "\n".join(_side_by_side(p) for p in shown))
    if report.not_compared:
        content += "<p class=\"muted\">Not compared:</p>" + _list(report.not_compared)
    return SECTION.substitute(title=f"Integrity: {len(flagged)} flagged pair(s)", content=content)


def _after_review(rows: list[GradebookRow], review: BatchReview | None) -> str:
    """Every submission's score after review beside the automatic one, its late days and review state."""
    if review is None or not rows:
        return ""
    table = []
    for r in rows:
        final = review.finals[r.submission]
        late = final.late_note or late_summary(r.late)   # the note says the days and what they cost
        state, items = review.state(r.submission), review.open_items(r.submission)
        table.append([(_e(r.submission), "id"), (_e(f"{final.automatic:g}"), "num"),
                      (_e(f"{final.score:g} / {final.max_score:g}"), "num"), (_e(late), ""),
                      (_e(state) + (f'<br><span class="muted small">rubric awaiting: {_e(", ".join(items))}</span>'
                                    if items else ""), state.replace(" ", "-"))])
    done = sum(review.is_reviewed(r.submission) for r in rows)
    head = (f'<p class="muted">{done} of {len(rows)} reviewed. The score after review is the automatic score with '
            "the reviewers' adjustments and rubric points, then the late penalty; it is what grades.csv and "
            "moodle.csv give. Decisions recorded after this page was written are in grades.csv at once; the next "
            "<code>grade</code> into this folder rewrites this page.</p>")
    return SECTION.substitute(title="Scores after review", content=head + _table(
        ["submission", "automatic", "after review", "late", "review"], table))


def _roster(roster: RosterMatch | None) -> str:
    if roster is None or not (roster.missing or roster.warnings):
        return ""
    items = [f"missing: {s.id} {s.name}".strip() for s in roster.missing]
    items += [f"{sid}: {why}" for sid, why in sorted(roster.warnings.items())]
    return SECTION.substitute(title=f"Roster: {len(roster.missing)} missing student(s)", content=_list(items))


def _isolation(rows: list[GradebookRow]) -> tuple[str, str]:
    """(the batch's isolation in words, a warning note when any submission ran below the strong rungs)."""
    levels = Counter(r.isolation or "not recorded" for r in rows)
    text = "; ".join(f"{LEVEL_TEXT.get(level, level)} ({n})" for level, n in sorted(levels.items())) or "–"
    weak = sum(n for level, n in levels.items() if level not in STRICT_LEVELS)
    return text, (f"{weak} submission(s) graded without filesystem isolation" if weak else "")


def _decided(integrity: IntegrityReport | None, review: BatchReview | None) -> str:
    """The flagged-pairs tile's note: how many a person confirmed or cleared."""
    if integrity is None or review is None:
        return "integrity.csv"
    verdicts = Counter(d.verdict for d in (review.verdict(p.a, p.b) for p in integrity.flagged) if d is not None)
    return f"{verdicts['confirmed']} confirmed, {verdicts['cleared']} cleared"


SHORT_LEVEL = {"bwrap": "bubblewrap", "namespaces": "kernel namespaces", "uid": "a separate uid only", "none": "none"}


def summary_html(*, title: str, rows: list[GradebookRow], max_points: float, roster: RosterMatch | None = None,
                 integrity: IntegrityReport | None = None, review: BatchReview | None = None) -> str:
    """The instructor's page, to read in a minute: the figures that matter as tiles, a banner when the
    grader is suspect, the score distribution, the scores after review with late days and review state
    (`review`: the reviewers' decisions, grader.reports.batch_review), pass rate per test, failed
    submissions, failures by reason, time per submission, flagged pairs with their verdicts and
    missing students."""
    if review is not None:   # what the students get: decisions, rubric points, late penalty
        scores = [review.finals[r.submission].score for r in rows]
        max_points = max((review.finals[r.submission].max_score for r in rows), default=max_points)
    else:
        scores = [r.score for r in rows]
        max_points = max((r.max_score for r in rows), default=max_points)   # without the tests this mode skips
    statuses = Counter(r.status for r in rows)
    if roster and roster.missing:
        statuses["missing"] = len(roster.missing)
    groups = _failure_groups(rows)
    isolation, weak = _isolation(rows)
    full = sum(1 for r in rows if max_points and r.score >= max_points)
    flagged = len(integrity.flagged) if integrity is not None else 0
    not_graded = sum(n for s, n in statuses.items() if s not in ("graded", "missing"))
    tiles = [("submissions", len(rows), f"{full} with full marks"),
             ("mean score", f"{statistics.fmean(scores):.2f} / {max_points:g}" if scores else "–",
              f"median {statistics.median(scores):g}" if scores else ""),
             ("not graded", not_graded, ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())
                                                  if k not in ("graded", "missing"))),
             ("missing students", len(roster.missing) if roster else "–", "" if roster else "no roster given"),
             ("flagged pairs", flagged if integrity is not None else "–", _decided(integrity, review)),
             ("isolation", "strong" if not weak else "WEAK",
              ", ".join(f"{SHORT_LEVEL.get(level, level)} ({n})"
                        for level, n in sorted(Counter(r.isolation or "not recorded" for r in rows).items())))]
    if review is not None:
        still_open = Counter(review.state(r.submission) for r in rows if not review.is_reviewed(r.submission))
        tiles.insert(2, ("reviewed", f"{len(rows) - sum(still_open.values())} of {len(rows)}",
                         ", ".join(f"{n} {state}" for state, n in sorted(still_open.items()))))
        tiles[1] = ("mean score after review", *tiles[1][1:])
    modes = Counter(r.mode for r in rows)
    body = SUMMARY.substitute(
        title=_e(f"{heading(title)}: grading summary"), count=_e(len(rows)),
        modes=_e(", ".join(f"{m}" + (f" ({n})" if len(modes) > 1 else "") for m, n in sorted(modes.items())) or "–"),
        statuses=_e(", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "nothing graded yet"),
        isolation=_e(isolation),
        banner=suspect_banner(rows, groups)
        + (f'<p class="banner warn"><strong>Isolation:</strong> {_e(weak)} ({_e(isolation)})</p>' if weak else ""),
        tiles="".join(TILE.substitute(label=_e(a), value=_e(b), note=_e(c)) for a, b, c in tiles),
        histogram=SECTION.substitute(title="Score distribution" + (" after review" if review is not None else ""),
                                     content=histogram_svg(scores, max_score=max_points)),
        reviewed=_after_review(rows, review),
        tests=_test_stats(rows), failed=_failed_submissions(rows), failures=_failures(groups), times=_times(rows),
        integrity=_integrity(integrity, review), roster=_roster(roster))
    return PAGE.substitute(title=_e(f"{heading(title)}: summary"), body=body)


__all__ = ["feedback_html", "summary_html", "histogram_svg", "failure_reason", "suspect_banner", "KIND_TEXT"]
