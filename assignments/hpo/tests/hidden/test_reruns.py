"""Hidden checks that re-run logged trainings in the worker: the log is not forged, and the best
configuration's test accuracy, measured here on images the worker sees only after training."""
import pytest
from hpo_support import best_trial, rerun, trial_label
from hpo_checks import accuracy_matches, pick_trials

# mixed into the sample's seed; this file is not released, so which trials are re-run cannot be predicted
SALT = 0x6A1F_3C5D


@pytest.mark.points(4)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1800)
def test_log_reproduces(student, worker, hpo_log, reruns, best_run, settings, feedback):
    """re-running logged trials (a random sample and the best one) gives the logged accuracies"""
    done = hpo_log.require().complete()
    best = best_trial(done)
    others = [t for t in done if t["trial"] != best["trial"]]
    sample = pick_trials(others, settings["rerun_trials"], reruns.sample_seed ^ SALT)
    b = best_run.get()  # retrained first (a fixture): its failure, e.g. a timeout, is the one to report
    rows, wrong = [(best, b.result["val_accuracy"])], []
    for t in sample:
        rows.append((t, rerun(student, worker, reruns, t)["val_accuracy"]))
    for t, got in rows:
        ok = accuracy_matches(t["val_accuracy"], got, reruns.tolerance)
        line = (f"{trial_label(t)}{' (the best)' if t is best else ''}: logged {t['val_accuracy']:.4f}, "
                f"re-run {got:.4f}")
        feedback.note(line + ("" if ok else "  <- differs"))
        if not ok:
            wrong.append(line)
    assert not wrong, (f"{len(wrong)} of {len(rows)} re-run trainings do not reproduce the logged validation accuracy "
                       f"(allowed difference: {reruns.tolerance_text}; {reruns.epochs(best)} epochs, device "
                       f"{reruns.device}):\n  " + "\n  ".join(wrong) + reruns.note)


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1800)
def test_best_config_test_accuracy(best_run, thresholds, credit, feedback):
    """test accuracy of the best configuration, retrained by the grader and scored on its test split"""
    b = best_run.get()
    th = thresholds["test_accuracy"]
    credit.linear(b.test_accuracy, full=th["full"], zero=th["zero"], what="test accuracy of the best config")
    feedback.note(f"best logged trial: {trial_label(b.trial)}, config {b.trial['config']}, logged validation "
                  f"accuracy {b.trial['val_accuracy']:.4f}; retrained here: validation {b.result['val_accuracy']:.4f}, "
                  f"test {b.test_accuracy:.4f}")
