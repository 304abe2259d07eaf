"""Hidden checks on the log's content: enough trainings, varied configs, an automatic method, and
parameter counts that match the models the submission builds. Trainings are credited in proportion to
the re-run trials that reproduce their logged accuracy. Counting is robust to cheap padding:
near-identical configs (numbers nudged by 1e-7) count once, and an accuracy that is not a whole
number of validation images was not measured, so its trial does not count."""
import pytest
from hpo_support import SequentialRule, shapes_of, trial_label
from hpo_checks import accuracy_off_grid, distinct_configs, param_count_from_shapes, pick_trials

SALT = 0x2B7E_1516  # mixed into the sample's seed; this file is not released
MANUAL = {"manual", "by hand", "hand", "hand-tuned", "handtuned", "none", "unknown", "n/a", "na", "-", "todo"}


def validation_size(log, settings) -> tuple[int | None, str]:
    """How many validation images the logged accuracies were measured on, and where that comes from.

    The grader's own split size (settings n_val) wins over the header's n_val: a header is written by
    the student. A log made on another data set than this mode's is judged by its header alone."""
    known = settings.get("n_val")
    known = [known] if isinstance(known, int) else list(known or [])
    header = log.header.get("n_val")
    header = header if isinstance(header, int) and not isinstance(header, bool) and header > 0 else None
    if known and log.dataset() in (None, settings["dataset"]):
        if header in known:
            return header, f"the {header} images of the validation split"
        if len(known) == 1:
            return known[0], f"the {known[0]} images of the grader's validation split"
        fits = min(known, key=lambda n: sum(accuracy_off_grid(t["val_accuracy"], n) for t in log.complete()))
        return fits, f"the {fits} images of the validation split the log fits best"
    if header:
        return header, f"the {header} validation images the log's header gives"
    return None, ""


def credited_trainings(distinct: int, verification, thresholds: dict, settings: dict) -> tuple[float, str]:
    """(trainings credited, why): the distinct trainings times the share of the re-run sample that the
    re-runs verify (SequentialRule.credited_share), or all of them when re-runs are not possible here."""
    if verification.not_done:
        return float(distinct), f"{distinct} distinct trainings; not verified by re-runs ({verification.not_done})\n"
    if verification.failed:
        return 0.0, (f"{distinct} distinct trainings logged, but none could be verified: re-running them failed "
                     f"({verification.failed})\n")
    v = verification.verdict
    rule = SequentialRule.from_spec(thresholds, settings)
    share = rule.credited_share(v)
    verified = sum(c.verified for c in v.random_checks())
    why = (f"{distinct} distinct trainings x {share:.0%} verified = {distinct * share:.1f} credited: {verified} of the "
           f"{v.n} re-run trials reproduce their logged accuracy within {rule.verify:g} noise standard deviations")
    if rule.consistency(v) < 1:
        why += (f", and the sample as a whole sits |z| = {abs(v.z):.2f} from the log (credited in full up to "
                f"{rule.full:g}, none from {rule.zero:g})")
    return distinct * share, why + "\n"


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(1800)   # the verification fixture may run the re-runs
def test_enough_trainings(hpo_log, settings, thresholds, verification, credit):
    """at least the required number of complete trainings (distinct config and seed), credited in
    proportion to the re-run trials that reproduce their logged accuracy"""
    log = hpo_log.require()
    done = log.complete()
    # an accuracy on n images is k / n: a value between two such steps was not measured
    n_val, where = validation_size(log, settings)
    off_grid = [t for t in done if n_val and accuracy_off_grid(t["val_accuracy"], n_val)]
    counted = [t for t in done if not (n_val and accuracy_off_grid(t["val_accuracy"], n_val))]
    # a copied line is not another training, nor is a copy with its numbers nudged by 1e-7:
    # count distinct (config, seed) pairs, configs equal to 0.1 % in every number counting once
    distinct = distinct_configs([{"config": {**t["config"], "__seed__": t["seed"]}} for t in counted])
    need = settings["min_trials"]
    credited, why = credited_trainings(distinct, verification, thresholds, settings)
    credit.linear(credited, full=need, zero=settings["min_trials_zero"], what="complete trainings credited")
    credit.message += why
    if off_grid:
        shown = "; ".join(f"{trial_label(t)}: {t['val_accuracy']!r} x {n_val} = {t['val_accuracy'] * n_val:.3f}"
                          for t in off_grid[:5])
        credit.message += (f"not counted: {len(off_grid)} complete trials whose val_accuracy is not a whole number of "
                           f"{where} ({shown}{'; ...' if len(off_grid) > 5 else ''}); a measured accuracy is "
                           f"correct / {n_val}, so these numbers were not measured on that split\n")
    if distinct < len(counted):
        credit.message += (f"{len(counted)} complete trials counted, but only {distinct} different (config, seed) "
                           "pairs: repeated lines, and configs that differ by less than 0.1 % in every number, "
                           "count once\n")
    pruned = sum(t["status"] == "pruned" for t in log.trials)
    failed = sum(t["status"] == "failed" for t in log.trials)
    if pruned or failed:
        credit.message += f"not counted: {pruned} pruned and {failed} failed trials\n"


@pytest.mark.points(1.5)
@pytest.mark.visibility("after_due_date")
def test_configs_vary(hpo_log, thresholds):
    """the search tried really different configurations and network sizes"""
    done = hpo_log.require().complete()
    n = len(done)
    configs = distinct_configs(done)
    sizes = len({t["params"] for t in done if t["params"] is not None})
    want_configs = thresholds["min_distinct_fraction"] * n
    assert n >= 2 and configs >= want_configs, (
        f"only {configs} different configs among {n} complete trainings (at least "
        f"{thresholds['min_distinct_fraction']:.0%} should differ; configs whose numbers all agree to 0.1 % count "
        "as one): a search tries new configurations")
    assert sizes >= thresholds["min_distinct_sizes"], (
        f"only {sizes} different network sizes (parameter counts) in the log; the analysis of size versus "
        f"accuracy needs at least {thresholds['min_distinct_sizes']}: search width and depth too")


@pytest.mark.points(0.5)
@pytest.mark.visibility("after_due_date")
def test_automatic_method(hpo_log):
    """the log's header names the automatic search method"""
    log = hpo_log.require()
    method = log.header.get("method")
    assert isinstance(method, str) and method.strip(), (
        "the log does not say which search method chose the configs: write a JSONL header with "
        "\"method\" (TrialLog(..., method='optuna-tpe') does), or hand in Optuna's trials_dataframe() CSV")
    assert method.strip().lower() not in MANUAL, (
        f"the log's method is {method!r}; the assignment asks for an automatic search "
        "(random, grid, TPE, CMA-ES, Hyperband, ...)")


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
@pytest.mark.timeout(300)
def test_sizes_are_true(student, hpo_log, settings, input_shape, seed):
    """logged parameter counts equal those of the models build_model makes for the logged configs"""
    done = hpo_log.require().complete()
    sample = {t["trial"]: t for t in pick_trials(done, settings["size_sample"], (seed + hpo_log.content_seed) ^ SALT)}
    with_params = [t for t in done if t["params"] is not None]
    for t in (min(with_params, key=lambda t: t["params"]), max(with_params, key=lambda t: t["params"])) if with_params else ():
        sample.setdefault(t["trial"], t)  # the extremes carry the size-accuracy analysis
    wrong = []
    for t in sorted(sample.values(), key=lambda t: t["trial"]):
        model = student.build_model(t["config"], input_shape=input_shape, num_classes=10)
        counted = param_count_from_shapes(shapes_of(model.state_dict(), "build_model(config)"))
        if t["params"] != counted:
            wrong.append(f"{trial_label(t)}: logged {t['params']}, the model has {counted}")
    assert not wrong, (f"{len(wrong)} of {len(sample)} checked trials log a parameter count that differs from the "
                       f"model build_model(config, input_shape={input_shape}) makes (parameters only, no "
                       "BatchNorm running statistics):\n  " + "\n  ".join(wrong[:8]))
