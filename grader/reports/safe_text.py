"""Student text on its way out: made inert for the terminal, a spreadsheet and Markdown.

File names, exception messages and notes all carry text the student controls. Each output gets
it through one of these: `printable` (no control character reaches a terminal: an OSC 52
clipboard write or a window title arrives as visible `\\x1b` text), `csv_cell` (no formula: OWASP's
leading apostrophe), `md_inline` / `md_fence` (no raw HTML, no link, no way out of a code fence).
HTML pages are autoescaped by their Jinja2 templates (grader.reports.page_templates); Rich markup
is escaped in grader.reports.terminal.
"""
from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (8-bit CSI/OSC), and the bidirectional
# overrides that make a terminal show text in another order than it is ("Trojan source")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")  # CR arrives here as a newline
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _visible(m: re.Match) -> str:
    c = m.group()
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(text) -> str:
    """`text` with every control character shown as `\\xNN` (tab and newline stay; CR ends a line)."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(_visible, text)


def csv_cell(value):
    """A value for a CSV cell: numbers unchanged; text printable and, when a spreadsheet would read it
    as a formula (= + - @ tab CR first), behind a leading apostrophe (OWASP's CSV injection advice)."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def md_inline(text) -> str:
    """Text for one line of Markdown: no raw HTML (& < > as entities), no emphasis, code span, link,
    or table cell break (backslash escapes), no new block (newlines become spaces)."""
    text = printable(text).replace("\n", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_fence(text, info: str = "text") -> list[str]:
    """Lines of a fenced code block holding `text` verbatim: the fence is longer than any backtick
    run in the text, so no line of it can close the block (and inside a block HTML is text)."""
    text = printable(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text, fence]


def md_code(text) -> str:
    """An inline code span holding `text` verbatim (on one line)."""
    text = printable(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"
