"""The Jinja2 environment that renders feedback.html and summary.html from `templates/` (package data).

Autoescaping is on for every template, so a value reaches a page escaped unless a template marks it
otherwise, and none does: there is no call to forget. Escaping is `html.escape`'s (`'` as `&#x27;`,
`"` as `&quot;`), the form the pages have always had. Undefined names raise (StrictUndefined): a
template that asks for a value the renderer did not give fails the grader's own tests, never
renders an empty field into a student's page.
"""
from __future__ import annotations

import html
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from grader.reports import wording

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _escaped(value: object) -> object:
    """Every `{{ value }}` through html.escape; template output (a macro's, an include's) is already escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      finalize=_escaped, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals["words"] = wording   # the headings and phrases feedback.md shares
    return env


def render(template: str, **context: object) -> str:
    """`template` (a name under templates/) rendered with `context`."""
    return environment().get_template(template).render(**context)
