"""Hidden checks: quality after training on the grader's data, the bottleneck's reality, the log."""
import pytest
import torch
from ae_metrics import bce

from grader.authoring import expect_array, expect_log, image_rows, line_plot


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
@pytest.mark.parametrize("k", [32, 16, 8])
def test_reconstruction_loss(trained, thresholds, credit, feedback, ae_data, k):
    """test-set reconstruction BCE after training (decoded from the noisy codes alone, by the trained weights)"""
    t = trained[k].get()
    t.dependence.require()  # reconstructions that do not change with the weights earn nothing
    credit.metrics.update({f"change with {v} weights k={k}": c for v, c in t.dependence.change.items()})
    test_x = ae_data[1]
    floor = bce(test_x, test_x)  # a perfect copy's BCE: grey pixels keep it above 0
    th = thresholds["excess_bce"][k]
    credit.linear(t.test_bce - floor, full=th["full"], zero=th["zero"],
                  what=f"test BCE above a perfect copy's (bottleneck {k}: {t.test_bce:.4f}, a copy scores {floor:.4f})")
    if k == 8:  # one picture for all three: originals, then each bottleneck's reconstructions
        side = int(round(test_x.shape[1] ** 0.5))
        done = [j for j in sorted(trained, reverse=True) if trained[j].error is None and trained[j].recon is not None]
        rows = [("original", test_x[:10].reshape(-1, side, side))]
        rows += [(f"k = {j}", trained[j].recon[:10].reshape(-1, side, side)) for j in done]
        feedback.image("ten test images and their reconstructions, decoded by the grader from your noisy codes "
                       "(one row per bottleneck size k; test BCE: "
                       + ", ".join(f"k = {j}: {trained[j].test_bce:.4f}" for j in done) + ")",
                       image_rows(rows, columns=10))


@pytest.mark.points(2)
def test_smaller_bottleneck_loses_more(trained, thresholds, ae_data):
    """the test loss grows as the bottleneck shrinks: loss(8) > loss(16) > loss(32)"""
    losses = {k: trained[k].get().test_bce for k in (32, 16, 8)}
    for k in (32, 16, 8):
        trained[k].dependence.require()
    floor = bce(ae_data[1], ae_data[1])
    pass_mark = thresholds["excess_bce"][32]["zero"]
    assert losses[32] - floor < pass_mark, (  # a model that reconstructs nothing has no meaningful order
        f"loss(32) is {losses[32] - floor:.4f} above a perfect copy's, not below the pass mark {pass_mark:g}: "
        "the models reconstruct too poorly for their order to mean anything")
    tol = thresholds["ordering_tolerance"]  # differences inside the reference's seed-to-seed noise are ties
    assert losses[8] > losses[16] - tol and losses[16] > losses[32] - tol, (
        "expected loss(8) > loss(16) > loss(32) (within " + f"{tol:g}), got "
        + ", ".join(f"loss({k}) = {v:.4f}" for k, v in losses.items()))


@pytest.mark.points(3)
def test_bottleneck_is_real(trained, thresholds):
    """codes decoded in a fresh process holding only the trained weights reconstruct as well as forward"""
    for k in (8, 16, 32):
        t = trained[k].get()
        assert t.test_bce <= t.direct_bce + thresholds["bottleneck_tolerance"], (
            f"bottleneck {k}: reconstructions from the {k} code numbers alone (slightly noisy, decoded in a fresh "
            f"process) have BCE {t.test_bce:.4f}, but forward(x) reached {t.direct_bce:.4f}. The output must be "
            "computed from the code only: no inputs kept in globals, attributes, buffers or files, nothing "
            "hidden in the code's low bits.")


# A log that reports MSE where the task asks for BCE is a format mistake, not a false claim: the
# weights do reach what it says. It loses this share of the test's points, and is told so.
MSE_LOG_DEDUCTION = 0.25
# how near the grader's MSE a logged loss must be to count as one: the log's last train_loss is an
# average over the last epoch, so a little above the final weights' MSE; BCE per pixel is several times larger
MSE_MATCH = 0.5


def _looks_like_mse(logged: float, t) -> bool:
    return abs(logged - t.train_mse) <= MSE_MATCH * t.train_mse + 1e-3 and logged < t.train_bce / 2


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
def test_training_log(trained, settings, thresholds, feedback, credit, request):
    """the training log has one finite record per epoch, the training loss falls, and the trained weights bear it out"""
    mse_logs = []
    for k in (32, 16, 8):
        t = trained[k].get()
        log = expect_log(t.log, name=f"train_autoencoder (bottleneck {k})",
                         keys=("epoch", "train_loss", "val_loss"), length=settings["epochs"])
        first, last = log[0]["train_loss"], log[-1]["train_loss"]
        assert last < first, f"bottleneck {k}: the training loss did not fall ({first:.4f} -> {last:.4f})"
        if last >= t.train_bce - thresholds["log_tolerance"]:
            continue
        if _looks_like_mse(last, t):
            mse_logs.append(f"bottleneck {k}: your log reports what looks like MSE ({last:.3g}; the grader's MSE "
                            f"of your weights is {t.train_mse:.3g}); the assignment asks for the BCE per pixel "
                            f"(the grader measures {t.train_bce:.2f})")
            continue
        # the log is the submission's own claim: the handed-over weights must reach what it says
        raise AssertionError(f"bottleneck {k}: the log's last train_loss is {last:.4f}, but the trained weights reconstruct "
                    f"the training images with BCE {t.train_bce:.4f} (and MSE {t.train_mse:.4f}; both recomputed by "
                    "the grader): the log must report the BCE per pixel that the training reached")
    feedback.image("training loss per epoch as your train_autoencoder logged it; diamonds: the training BCE the "
                   "grader measured from the trained weights",
                   line_plot({f"k = {k} (your log)": [r["train_loss"] for r in trained[k].log] for k in (32, 16, 8)},
                             xlabel="epoch", ylabel="training loss (BCE per pixel)",
                             marks={f"k = {k} (measured)": (len(trained[k].log), trained[k].train_bce)
                                    for k in (32, 16, 8)}))
    if mse_logs:
        points = request.node.get_closest_marker("points").args[0]
        credit.fraction = 1 - MSE_LOG_DEDUCTION
        credit.message = "\n".join(mse_logs) + (
            f"\nYour weights do reach the loss your log reports, so this is a format mistake: "
            f"{MSE_LOG_DEDUCTION * points:g} of the {points:g} points are deducted. The assignment asks for the "
            "BCE per pixel in train_loss and val_loss.")


@pytest.mark.points(1)
def test_other_sizes(student):
    """the model works for other input sizes, small bottlenecks and a batch of one"""
    for input_dim, k, n in [(100, 5, 1), (30, 2, 7)]:
        model = student.Autoencoder(input_dim=input_dim, bottleneck_dim=k)
        model.eval()
        x = torch.rand(n, input_dim)
        expect_array(model.encode(x), name=f"Autoencoder({input_dim}, {k}).encode(x)", shape=(n, k))
        expect_array(model.forward(x), name=f"Autoencoder({input_dim}, {k}).forward(x)", shape=(n, input_dim),
                     low=0.0, high=1.0)
