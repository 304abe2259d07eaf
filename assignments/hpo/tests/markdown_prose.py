"""Markdown read as a person reads it: the sentences of a write-up, without its markup. Trusted, stdlib only.

A student's analysis.md is ordinary Markdown: paragraphs hard-wrapped at 80 or 100 columns, numbers in
bold (`**0.62**`, `ρ = **+0.41**`), names in code spans, bullet lists, tables, headings, LaTeX (`$\\rho$`).
The claim checks in hpo_checks look for a keyword and a value in one sentence, so the text they get must
hold each sentence on one line, as written, with the markup gone. markdown-it-py would parse it properly
but is only a development dependency of the toolkit (its tests render feedback), not part of the grading
environment; the subset handled here is the one write-ups use, and every case is in
tests/test_hpo_log_checks.py.

What becomes what (`prose_units` returns one string per sentence, heading, list item or table row):

| Markdown | unit(s) |
|---|---|
| a paragraph hard-wrapped over several lines | its sentences, the lines joined with spaces |
| `**0.62**`, `__0.62__`, `*big*`, `_big_`, `` `rho` ``, `~~x~~` | the text inside (`snake_case` and `ρ_s` keep their `_`) |
| `[text](url)`, `![alt](src)`, `<b>x</b>`, `<!-- -->` | text, nothing, x, nothing |
| `$\\rho = 0.6$`, `\\(\\tau\\)` | `ρ = 0.6`, `τ` |
| `# Heading`, `> quote`, `- item`, `1. item` | the heading, the quoted text, each item on its own |
| a table row under a header `| | Spearman ρ |` | "row label; Spearman ρ: cell; ..." (the header names each value) |
| fenced or indented code | nothing (code is not prose) |
"""
from __future__ import annotations

import re

__all__ = ["prose_units", "plain_inline"]

MAX_CHARS = 2_000_000   # a write-up is a few pages; a hostile one is cut here before any regex runs

_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~).*?^[ \t]{0,3}\1[^\n]*$", re.S | re.M)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
_SETEXT = re.compile(r"^[ \t]{0,3}(=+|-+)[ \t]*$")
_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(.*)$")
_RULE = re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^[ \t]{0,3}(?:>[ \t]?)+")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[\"'\u03c1\u03c4])")

_LATEX_NAMES = {"rho": "\u03c1", "tau": "\u03c4", "approx": "\u2248", "le": "\u2264", "leq": "\u2264",
                "ge": "\u2265", "geq": "\u2265", "times": "\u00d7", "pm": "\u00b1", "sim": "~", "cdot": "\u00b7"}
_INLINE_RULES = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), ""),                 # images carry no prose
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),                # links keep their text
    (re.compile(r"`+([^`]*)`+"), r"\1"),                          # code spans keep their text
    (re.compile(r"</?[A-Za-z][^<>]{0,200}>"), ""),                # inline HTML tags
    (re.compile(r"\\[()\[\]]"), ""),                              # \( \) \[ \] around LaTeX
    (re.compile(r"\\([A-Za-z]+)"), lambda m: _LATEX_NAMES.get(m.group(1), m.group(1))),
    (re.compile(r"\$+"), ""),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),          # backslash escapes
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),         # strong emphasis
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?!\w)"), r"\1"),  # *emphasis*
    (re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),   # _emphasis_, not snake_case or ρ_s
    (re.compile(r"~~(.+?)~~"), r"\1"),
]


def plain_inline(text: str) -> str:
    """One line of Markdown without its inline markup (emphasis, code spans, links, HTML, LaTeX)."""
    for pattern, repl in _INLINE_RULES:
        text = pattern.sub(repl, text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [plain_inline(c) for c in re.split(r"(?<!\\)\|", row)]


def _table_units(header: list[str], rows: list[list[str]]) -> list[str]:
    """Each body row as one unit in which every value follows the header of its column."""
    units = []
    for cells in rows:
        label, values = cells[0], cells[1:]
        parts = [f"{header[0]} {label}".strip() if header and header[0] else label]
        parts += [f"{h}: {v}" if h else v for h, v in zip(header[1:], values) if v]
        units.append("; ".join(p for p in parts if p))
    return units


def _sentences(paragraph: list[str]) -> list[str]:
    joined = " ".join(plain_inline(line) for line in paragraph)
    return [s.strip() for s in _SENTENCE_END.split(joined) if s.strip()]


def prose_units(text: str) -> list[str]:
    """The sentences, headings, list items and table rows of a Markdown text, each on one line and
    without markup (see the module's table). Plain text (no Markdown) gives its sentences."""
    if not isinstance(text, str):
        return []
    text = text[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    text = _HTML_COMMENT.sub(" ", _FENCE.sub("\n", text))
    lines = text.split("\n")
    units: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        units.extend(_sentences(paragraph))
        paragraph.clear()

    i = 0
    while i < len(lines):
        line = _QUOTE.sub("", lines[i])
        nxt = _QUOTE.sub("", lines[i + 1]) if i + 1 < len(lines) else ""
        if "|" in line and _TABLE_DELIMITER.match(nxt):
            flush()
            header, rows = _cells(line), []
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(_QUOTE.sub("", lines[i])))
                i += 1
            units.extend(_table_units(header, rows))
            continue
        indented_code = line.startswith(("    ", "\t")) and not paragraph and not _ITEM.match(line)
        if not line.strip() or _RULE.match(line) or _SETEXT.match(line) or indented_code:
            flush()        # a blank line, a rule, a setext underline, or indented code (not prose)
        elif (m := _HEADING.match(line)) is not None:
            flush()
            units.append(plain_inline(m.group(1)))
        elif (m := _ITEM.match(line)) is not None:
            flush()
            paragraph.append(m.group(1))   # an item is a paragraph of its own; its wrapped lines join it
        else:
            paragraph.append(line.strip())
        i += 1
    flush()
    return [u for u in units if u]
