"""Self-contained HTML pages: `feedback.html` for each student and `summary.html` for the instructor.

Built with `string.Template`; every value that reaches a page goes through `html.escape` first
(`_e`), since test names, messages, reasons and ids can all carry text the student controls.
Pictures are embedded as base64 PNG data, the histogram is an inline SVG drawn from numbers
only, so each page is one file that opens anywhere, offline.
"""
from __future__ import annotations

import base64
import html
import re
import statistics
from collections import Counter
from string import Template

from grader.feedback import shows_details
from grader.gradebook import GradebookRow
from grader.results import SubmissionResult
from grader.roster import RosterMatch
from grader.sandbox import LEVEL_TEXT
from grader.similarity import IntegrityReport

STATUS_TEXT = {"passed": "passed", "partial": "partial", "failed": "failed", "skipped": "skipped"}

PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;width:100%}th,td{border:1px solid #ddd;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;white-space:nowrap}
.passed{color:#17803d}.partial{color:#a16207}.failed,.rejected,.timeout{color:#b91c1c}.skipped{color:#777}.error{color:#7e22ce}
pre{background:#f7f7f7;border:1px solid #e5e5e5;padding:.6em;overflow-x:auto;white-space:pre-wrap}
.banner{border-left:4px solid #b91c1c;background:#fef2f2;padding:.6em 1em}.muted{color:#666}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}img{max-width:100%;image-rendering:pixelated}
</style></head>
<body>
$body
</body></html>
""")

FEEDBACK = Template("""<h1>$title</h1>
<p class="muted">Feedback for <code>$submission</code> · data mode $mode</p>
<h2>Score: $score / $max_score</h2>
$banner
<table><thead><tr><th>Test</th><th>Points</th><th>Result</th></tr></thead><tbody>
$rows
</tbody></table>
$hidden_note
$details
$notes
""")
BANNER = Template('<p class="banner"><strong>$status</strong>: $reason</p>')
TEST_ROW = Template('<tr><td>$name</td><td class="num">$score / $points</td><td class="$status">$result</td></tr>')
DETAIL = Template("<section><h3>$name</h3>\n$message\n$detail\n$notes\n$images</section>")
PRE = Template("<pre>$text</pre>")
FIGURE = Template('<figure><figcaption>$title</figcaption><img alt="$title" src="data:image/png;base64,$data"></figure>')
ITEM = Template("<li>$text</li>")
LIST = Template("<ul>\n$items\n</ul>")
SECTION = Template("<h2>$title</h2>\n$content")

SUMMARY = Template("""<h1>$title</h1>
<p class="muted">$count submissions in the gradebook · $statuses</p>
<p class="muted">Isolation: $isolation</p>
<p>Mean score $mean / $max_score · median $median</p>
$histogram
$tests
$failures
$slowest
$integrity
$roster
""")
TABLE = Template("<table><thead><tr>$head</tr></thead><tbody>\n$rows\n</tbody></table>")
TH = Template("<th>$text</th>")
TD = Template('<td class="$cls">$text</td>')
TR = Template("<tr>$cells</tr>")
SVG = Template('<svg xmlns="http://www.w3.org/2000/svg" width="$width" height="$height" role="img" '
               'aria-label="score histogram" style="font:11px sans-serif">\n$bars\n'
               '<line x1="30" y1="$axis_y" x2="$axis_x2" y2="$axis_y" stroke="#555"/>\n$labels\n</svg>')
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


def feedback_html(result: SubmissionResult, *, title: str, images: dict[str, bytes],
                  after_due_date: bool = True) -> str:
    """One student's page: score, the test table, messages and pictures of the tests they may see.

    Tests whose visibility does not allow details show their name and points only."""
    rows, details, hidden = [], [], 0
    for t in result.tests:
        rows.append(TEST_ROW.substitute(name=_e(t.name), score=_e(f"{t.score:g}"), points=_e(f"{t.points:g}"),
                                        status=_e(t.status), result=_e(STATUS_TEXT.get(t.status, t.status))))
        if not shows_details(t.visibility, after_due_date=after_due_date):
            hidden += 1
            continue
        if t.status == "passed" and not (t.images or t.notes):
            continue
        figures = "".join(FIGURE.substitute(title=_e(img.get("title", "")),
                                            data=base64.b64encode(images[img["file"]]).decode())
                          for img in t.images if img.get("file") in images)
        details.append(DETAIL.substitute(
            name=_e(t.name), message=PRE.substitute(text=_e(t.message.strip())) if t.message.strip() else "",
            detail=PRE.substitute(text=_e(t.detail.strip())) if t.detail.strip() and t.status != "passed" else "",
            notes=_list(t.notes), images=figures))
    banner = (BANNER.substitute(status=_e(result.status.upper()), reason=_e(result.reason))
              if result.reason and result.status != "graded" else "")
    body = FEEDBACK.substitute(
        title=_e(title), submission=_e(result.submission), mode=_e(result.mode), score=_e(f"{result.score:g}"),
        max_score=_e(f"{result.max_score:g}"), banner=banner, rows="\n".join(rows),
        hidden_note=(f"<p class=\"muted\">{hidden} hidden test(s) are listed with their points only.</p>"
                     if hidden else ""),
        details=SECTION.substitute(title="Details", content="\n".join(details)) if details else "",
        notes=SECTION.substitute(title="How your submission was read", content=_list(result.notes))
        if result.notes else "")
    return PAGE.substitute(title=_e(f"{title}: {result.submission}"), body=body)


def histogram_svg(scores: list[float], *, max_score: float, bins: int = 10) -> str:
    """Counts of scores in `bins` equal ranges of [0, max_score], as an inline SVG."""
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
    width, height, bar = 40 + 34 * bins, 190, 28
    top = max(counts, default=0) or 1
    bars, labels = [], []
    for i, (c, name) in enumerate(zip(counts, names)):
        h = round(140 * c / top)
        x = 32 + 34 * i
        bars.append(BAR.substitute(x=x, y=160 - h, w=bar, h=h, tip=_e(f"{c} submission(s) at {name}"),
                                   tx=x + bar // 2, ty=155 - h, count=c if c else ""))
        labels.append(LABEL.substitute(x=x + bar // 2, y=176, text=_e(name)))
    return SVG.substitute(width=width, height=height, bars="\n".join(bars), axis_y=160, axis_x2=width - 4,
                          labels="\n".join(labels))


def _test_stats(rows: list[GradebookRow]) -> str:
    stats: dict[str, dict] = {}
    for r in rows:
        for t in r.tests:
            s = stats.setdefault(t["nodeid"], {"name": t["name"], "points": t["points"], "visibility": t["visibility"],
                                               "ran": 0, "passed": 0, "score": 0.0})
            if t["status"] != "skipped":
                s["ran"] += 1
                s["passed"] += t["status"] == "passed"
                s["score"] += t["score"]
    table = [[(_e(s["name"]), ""), (_e(nodeid), "muted"), (_e(s["visibility"]), ""), (_e(f"{s['points']:g}"), "num"),
              (_e(f"{s['passed']}/{s['ran']}"), "num"),
              (_e(f"{100 * s['passed'] / s['ran']:.0f} %" if s["ran"] else "–"), "num"),
              (_e(f"{s['score'] / s['ran']:.2f}" if s["ran"] else "–"), "num")] for nodeid, s in stats.items()]
    return SECTION.substitute(title="Pass rate per test", content=_table(
        ["test", "nodeid", "visibility", "points", "passed", "pass rate", "mean score"], table))


def failure_reason(message: str) -> str:
    """A message with its particulars (numbers, quoted values, file names) blanked, for grouping."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", message.strip().splitlines()[0] if message.strip() else "")
    text = re.sub(r"\b[\w.-]+\.(py|ipynb|zip)\b", "<file>", text)
    return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", text)[:160]


def _failures(rows: list[GradebookRow]) -> str:
    groups: dict[tuple, list[str]] = {}
    for r in rows:
        if r.status != "graded":
            groups.setdefault((r.status, "", failure_reason(r.reason)), []).append(r.submission)
            continue
        for t in r.tests:
            if t["status"] in ("failed", "partial"):
                key = (t["kind"] or t["status"], t["name"], failure_reason(t["message"]))
                groups.setdefault(key, []).append(r.submission)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    table = [[(_e(len(subs)), "num"), (_e(kind), ""), (_e(test), ""), (_e(message), ""),
              (_e(", ".join(subs[:8]) + (f" … (+{len(subs) - 8})" if len(subs) > 8 else "")), "")]
             for (kind, test, message), subs in ordered]
    return SECTION.substitute(title="Failures grouped by reason", content=_table(
        ["submissions", "kind", "test", "reason", "who"], table) if table else "<p>None.</p>")


def _slowest(rows: list[GradebookRow], n: int = 10) -> str:
    slow = sorted(rows, key=lambda r: -r.duration)[:n]
    table = [[(_e(r.submission), ""), (_e(f"{r.duration:.1f} s"), "num"), (_e(r.status), _e(r.status))] for r in slow]
    return SECTION.substitute(title="Slowest submissions", content=_table(["submission", "time", "status"], table))


def _integrity(report: IntegrityReport | None) -> str:
    if report is None:
        return ""
    flagged = report.flagged
    table = [[(_e(p.kind), ""), (_e(p.a), ""), (_e(p.b), ""), (_e(f"{100 * p.similarity:.0f} %"), "num"),
              (_e(p.shared), "num"), (_e(p.detail), "")] for p in flagged]
    content = (f"<p class=\"muted\">Pairs at or above {100 * report.threshold:.0f} % similarity "
               f"(code: winnowed {report.k}-gram fingerprints, window {report.w}, template code removed; "
               "artifacts: shared log lines). Every pair is in integrity.csv.</p>")
    content += _table(["kind", "submission", "submission", "similarity", "shared", "detail"], table) \
        if table else "<p>No pair above the threshold.</p>"
    if report.not_compared:
        content += "<p class=\"muted\">Not compared:</p>" + _list(report.not_compared)
    return SECTION.substitute(title="Integrity", content=content)


def _roster(roster: RosterMatch | None) -> str:
    if roster is None or not (roster.missing or roster.warnings):
        return ""
    items = [f"missing: {s.id} {s.name}".strip() for s in roster.missing]
    items += [f"{sid}: {why}" for sid, why in sorted(roster.warnings.items())]
    return SECTION.substitute(title="Roster", content=_list(items))


def summary_html(*, title: str, rows: list[GradebookRow], max_points: float, roster: RosterMatch | None = None,
                 integrity: IntegrityReport | None = None) -> str:
    """The instructor's page: histogram, pass rate per test, failures by reason, slowest, integrity."""
    scores = [r.score for r in rows]
    max_points = max((r.max_score for r in rows), default=max_points)   # without the tests this mode skips
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    if roster and roster.missing:
        statuses["missing"] = len(roster.missing)
    body = SUMMARY.substitute(
        title=_e(f"{title}: grading summary"), count=_e(len(rows)),
        isolation=_e("; ".join(f"{LEVEL_TEXT.get(level, level)} ({n} submissions)" for level, n in
                               sorted(Counter(r.isolation or "not recorded" for r in rows).items())) or "–"),
        statuses=_e(", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "nothing graded yet"),
        mean=_e(f"{statistics.fmean(scores):.2f}" if scores else "–"), max_score=_e(f"{max_points:g}"),
        median=_e(f"{statistics.median(scores):g}" if scores else "–"),
        histogram=SECTION.substitute(title="Scores", content=histogram_svg(scores, max_score=max_points)),
        tests=_test_stats(rows), failures=_failures(rows), slowest=_slowest(rows), integrity=_integrity(integrity),
        roster=_roster(roster))
    return PAGE.substitute(title=_e(f"{title}: summary"), body=body)
