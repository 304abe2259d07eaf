"""Hidden checks of the model side: the channel layout, forecast quality per horizon against the
persistence and climatology baselines (computed here), the training log, other shapes."""
import numpy as np
import pytest
import torch
from windowing_metrics import layout_task, predict, rmse

from grader.authoring import asking_each, expect_array, expect_log, line_plot, weights_dependence


@pytest.mark.points(4)
@pytest.mark.timeout(300)
def test_channel_layout(student, worker, handoff, course_key, settings, thresholds, credit, device, seed):
    """the model convolves over time, not over channels: it learns a task carried by one channel"""
    cfg = settings["layout"]
    n, m, c = cfg["windows"], cfg["frame_size"], cfg["channels"]
    X, y = layout_task(n + 1200, m, c, cfg["informative"], cfg["noise_scale"],
                       course_key.seed("conv1d_windowing", "layout"))
    train, val, test = slice(0, n), slice(n, n + 200), slice(n + 200, n + 1200)
    worker.seed(seed)
    model = student.Conv1dForecaster(c, m)
    with worker.timeout(cfg["train_timeout_s"]):
        student.train_forecaster(model, (torch.from_numpy(X[train]), torch.from_numpy(y[train])),
                                 (torch.from_numpy(X[val]), torch.from_numpy(y[val])), epochs=cfg["epochs"],
                                 batch_size=cfg["batch_size"], lr=cfg["lr"], device=device)
    weights = handoff.take(model, "Conv1dForecaster", c, m)  # before any test window exists in a worker
    with handoff.load(weights) as [trained]:
        pred = predict(trained, X[test])  # i.i.d. windows: a batch reveals nothing about another window
    # a fixed formula for the target (no learning) does not change when the weights do, and earns nothing
    weights_dependence(handoff, weights, asking_each(lambda m: predict(m, X[test])),
                       graded=pred, rng=course_key.rng("conv1d_windowing", "layout weights dependence"),
                       what="the outputs on the channel-layout task").require()
    unexplained = float(np.mean((pred - y[test]) ** 2) / np.var(y[test]))
    th = thresholds["layout_unexplained"]
    credit.linear(unexplained, full=th["full"], zero=th["zero"],
                  what=f"unexplained variance on a task carried by channel {cfg['informative']} of {c}")


@pytest.mark.points(3)
@pytest.mark.visibility("after_due_date")
@pytest.mark.parametrize("h", [1, 7, 30])
def test_forecast_rmse(forecasts, thresholds, credit, feedback, settings, h):
    """test-period RMSE of the forecast, h days ahead (degrees C), against persistence and climatology"""
    f = forecasts[h].get()
    f.dependence.require()  # forecasts that do not change with the weights (a lookup, a formula) earn nothing
    d = f.data
    th = thresholds["rmse"][h]
    persistence, climatology = rmse(d.persistence, d.test_y), rmse(d.climatology, d.test_y)
    credit.metrics.update({f"change with {v} weights h={h}": c for v, c in f.dependence.change.items()})
    if d.best is None:  # the keyed transform of the real series: marks relative to the better free baseline
        baseline = min(persistence, climatology)
        full, floor = th["full_over_baseline"] * baseline, th["floor_over_baseline"] * baseline
        why = (f"the full mark {full:.3f} is {th['full_over_baseline']:g} x {baseline:.3f}, the RMSE of the better of "
               "persistence and climatology on this test period\n")
    else:  # a keyed synthetic draw: marks relative to the generator's own forecast on this very test period
        best = rmse(d.best, d.test_y)
        full, floor = th["full_over_best"] * best, th["floor_over_best"] * best
        why = (f"the full mark {full:.3f} is {th['full_over_best']:g} x {best:.3f}, the RMSE of the best possible "
               "forecast from the past on this test period\n")
        credit.metrics[f"best possible RMSE h={h}"] = best
    assert f.rmse >= floor, (
        f"test RMSE {h} day(s) ahead = {f.rmse:.3f} deg C, below {floor:.3f}: closer to the future than the past "
        "can tell (see assignment.yaml for how this floor was measured). Forecasts this good come from knowing the "
        "test period (a copy of the data, a lookup), not from a model of the windows, and earn no credit; if your "
        "model is a genuine forecaster, show it to your instructor")
    # no points for a forecast no better than the worse free baseline on this test period
    credit.linear(f.rmse, full=round(full, 3), zero=round(max(persistence, climatology, full + 0.1), 3),
                  what=f"test RMSE {h} day(s) ahead (deg C)")
    credit.message += why
    credit.metrics.update({f"persistence RMSE h={h}": persistence, f"climatology RMSE h={h}": climatology})
    feedback.note(f"{h} day(s) ahead, test RMSE in deg C: your model {f.rmse:.3f}, persistence {persistence:.3f}, "
                  f"climatology {climatology:.3f} ({len(d.test_y)} test windows)")
    days = slice(0, min(len(d.test_y), settings["plot_days"]))
    feedback.image(f"{h} day(s) ahead: the first {days.stop} days of the test period; your model's forecasts were "
                   "made by the grader from the handed-over weights, one window at a time",
                   line_plot({"truth": d.test_y[days], f"your forecast (RMSE {f.rmse:.2f} °C)": f.pred[days],
                              f"climatology (RMSE {climatology:.2f} °C)": d.climatology[days]},
                             xlabel="day of the test period", ylabel="daily minimum temperature (°C)",
                             title=f"forecast {h} day(s) ahead against the truth"))


@pytest.mark.points(2)
@pytest.mark.visibility("after_due_date")
def test_training_log(forecasts, settings, feedback):
    """the training log has one record per epoch, numbered from 1, its training loss falls, and its validation loss is the trained model's"""
    logs = {}
    for h, f in forecasts.items():
        log = expect_log(f.get_log(), name=f"train_forecaster (horizon {h})", keys=("epoch", "train_loss", "val_loss"),
                         length=settings["epochs"])
        assert [r["epoch"] for r in log] == list(range(1, settings["epochs"] + 1)), \
            f"horizon {h}: epochs should be numbered 1 ... {settings['epochs']}"
        first, last = log[0]["train_loss"], log[-1]["train_loss"]
        assert last < first, f"horizon {h}: the training loss did not fall ({first:.4f} -> {last:.4f})"
        # the log's numbers must be the model's: its validation loss, recomputed here from the handed-over
        # weights, equals the last epoch's (or, after early stopping that restores the best weights, the lowest)
        true = f.get().val_mse
        claimed = {r["val_loss"] for r in (log[-1], min(log, key=lambda r: r["val_loss"]))}
        assert any(abs(v - true) <= 0.01 + 0.1 * true for v in claimed), (
            f"horizon {h}: the log reports a final validation loss of {log[-1]['val_loss']:.4f} (lowest "
            f"{min(r['val_loss'] for r in log):.4f}), but the trained weights have a validation MSE of {true:.4f} "
            "(computed by the grader): the log must report the model's own losses")
        logs[h] = [r["train_loss"] for r in log]
    feedback.image("training loss per epoch, one model per horizon, as your train_forecaster logged it (its "
                   "validation loss was checked against the grader's)",
                   line_plot({f"{h} day(s) ahead": v for h, v in logs.items()}, xlabel="epoch",
                             ylabel="training loss (MSE of standardised targets)"))


@pytest.mark.points(1)
def test_other_shapes(student):
    """the forecaster works for other frame sizes, channel counts, several outputs and a batch of one"""
    # (channels, frame_size, outputs, batch); with m = C = 16 a missing permute does not crash
    for c, m, k, n in [(1, 16, 1, 1), (4, 64, 30, 7), (16, 16, 1, 3), (2, 48, 7, 1)]:
        model = student.Conv1dForecaster(c, m, horizon_outputs=k)
        model.eval()
        want = (n,) if k == 1 else (n, k)
        expect_array(model(torch.randn(n, m, c)), name=f"Conv1dForecaster({c}, {m}, horizon_outputs={k})(x) "
                     f"for x of shape {(n, m, c)}", shape=want, floating=True)
