"""Hand-in times from Moodle's grading worksheet (`grade --submission-times worksheet.csv`).

A "Download all submissions" export carries no times, so Moodle's own record is read from the
worksheet (Assignment → View all submissions → Grading action → Download grading worksheet): its
columns "Identifier" (`Participant 123`), "Full name", "Email address" and "Last modified
(submission)". Moodle writes that time in the downloading user's time zone without naming it
(`Tuesday, 14 March 2023, 11:56 PM`, English interface), so a time without a zone is read in the
deadline's zone; ISO 8601 times are read as written; `-` (no submission) gives no time.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from grader.core.errors import ToolkitError
from grader.intake.csv_exports import read_csv_export

IDENTIFIER, FULL_NAME, EMAIL, MODIFIED = "identifier", "full name", "email address", "last modified (submission)"
PARTICIPANT = re.compile(r"^\s*participant\s+(\d+)\s*$", re.IGNORECASE)
# Moodle's English date formats (strftimedaydatetime and the like), 12- and 24-hour
MOODLE_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d %B %Y, %I:%M %p", "%d %B %Y, %H:%M")


@dataclass
class SubmissionTimes:
    """Moodle's last-modified times, looked up by participant number, name or email."""
    by_participant: dict = field(default_factory=dict)   # "123" -> datetime
    by_name: dict = field(default_factory=dict)          # name key -> datetime
    by_email: dict = field(default_factory=dict)         # casefolded email -> datetime

    def time_for(self, *, participant: str = "", name: str = "", email: str = "") -> datetime | None:
        if participant and participant in self.by_participant:
            return self.by_participant[participant]
        if name and name_key(name) in self.by_name:
            return self.by_name[name_key(name)]
        return self.by_email.get(email.casefold()) if email else None


def name_key(name: str) -> str:
    """`Kovács Áron`, `Kovacs_Aron` and `aron kovacs` give one key."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(sorted(re.split(r"[\s_]+", plain.casefold().strip())))


def parse_moodle_time(text: str, zone: tzinfo) -> datetime | None:
    """A worksheet time; None for Moodle's `-` (nothing submitted). ValueError for what is not a time."""
    text = " ".join(text.split())
    if text in ("", "-"):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in MOODLE_FORMATS:
            try:
                when = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(text) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def read_worksheet(path: Path, *, zone: tzinfo) -> SubmissionTimes:
    """The worksheet's times; ToolkitError naming the file (and line) for what cannot be used."""
    header, reader = read_csv_export(path, "the grading worksheet")
    if MODIFIED not in header or not {IDENTIFIER, FULL_NAME, EMAIL} & set(header):
        raise ToolkitError(f"{path}: not a Moodle grading worksheet: it needs the column 'Last modified (submission)' "
                           f"and one of 'Identifier', 'Full name', 'Email address'; its header is "
                           f"{', '.join(header) or 'empty'} (download it with an English interface)")
    col = {c: header.index(c) if c in header else None for c in (IDENTIFIER, FULL_NAME, EMAIL, MODIFIED)}
    times = SubmissionTimes()
    for number, cells in enumerate(reader, start=2):
        get = lambda c: cells[col[c]].strip() if col[c] is not None and col[c] < len(cells) else ""  # noqa: E731
        try:
            when = parse_moodle_time(get(MODIFIED), zone)
        except ValueError:
            raise ToolkitError(f"{path}, line {number}: 'Last modified (submission)' is {get(MODIFIED)!r}, which is "
                               "not a time Moodle writes in English or ISO 8601") from None
        if when is None:
            continue
        participant = PARTICIPANT.match(get(IDENTIFIER))
        if participant:
            times.by_participant[participant[1]] = when
        if get(FULL_NAME):
            times.by_name[name_key(get(FULL_NAME))] = when
        if get(EMAIL):
            times.by_email[get(EMAIL).casefold()] = when
    return times
