"""Public check: the trial log is readable and valid. Run it with `dlgrade check hpo your_folder/`
(the folder holding your notebook or script, hpo_log.jsonl and analysis.md)."""
import pytest

MAX_LISTED = 15


@pytest.mark.points(2)
def test_log_is_valid(hpo_log, feedback):
    """the trial log (hpo_log.jsonl or a CSV) is readable and every record is valid"""
    if hpo_log.others:
        feedback.note(f"graded the log {hpo_log.name}; also found, not read: {', '.join(hpo_log.others[:5])}")
    if hpo_log.problem:
        raise AssertionError(hpo_log.problem)
    errors = hpo_log.errors
    if errors:
        listed = "\n".join(f"  - {e}" for e in errors[:MAX_LISTED])
        more = f"\n  ... and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        raise AssertionError(f"{hpo_log.name}: {len(errors)} problem(s) (line numbers count from 1, the header "
                             f"included):\n{listed}{more}\nThe format is described in the task README "
                             "(dlcourse.trial_log.TrialLog writes it for you).")
    if not hpo_log.complete():
        raise AssertionError(f"{hpo_log.name}: the log holds no complete trial")
