"""The integrity measure: renamed and reformatted copies score high, unrelated code low, starter
code does not count, and copied training logs are found, also when re-serialised (another format,
reordered, fewer digits). The attacks of issue #20 (padding, nudging, prose) are in
tests/test_integrity_attacks.py."""
from __future__ import annotations

import csv
import io
import json
import random

from grader.integrity.code_fingerprints import code_similarity, lexical_tokens, normalised_tokens, winnow
from grader.integrity.log_records import log_records, records_match
from grader.integrity.similarity import _artifact_lines, compare_submissions

ORIGINAL = '''
import torch
from torch import nn


class Autoencoder(nn.Module):
    """Dense encoder and decoder around a small bottleneck."""

    def __init__(self, input_dim, bottleneck_dim, hidden=128):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, bottleneck_dim))
        self.decoder = nn.Sequential(nn.Linear(bottleneck_dim, hidden), nn.ReLU(), nn.Linear(hidden, input_dim),
                                     nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def train(model, data, epochs=10, lr=1e-3, batch_size=64):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        perm = torch.randperm(len(data))
        total = 0.0
        for i in range(0, len(data), batch_size):
            batch = data[perm[i:i + batch_size]]
            loss = nn.functional.binary_cross_entropy(model(batch), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        losses.append(total / len(data))
        print(f"epoch {epoch}: {losses[-1]:.4f}")
    return losses
'''

# every name changed, comments added, strings and constants changed, lines re-wrapped
DISGUISED = '''
import torch
from torch import nn

# my own work!!
class AE(nn.Module):
    def __init__(me, n_in, n_code, width=256):
        super().__init__()
        # encoder part
        me.enc = nn.Sequential(
            nn.Linear(n_in, width),
            nn.ReLU(),
            nn.Linear(width, n_code),
        )
        me.dec = nn.Sequential(nn.Linear(n_code, width), nn.ReLU(),
                               nn.Linear(width, n_in), nn.Sigmoid())

    def forward(me, inp):
        return me.dec(me.enc(inp))


def fit(net, xs, n_epochs=20, step=3e-4, bs=32):
    optimizer = torch.optim.Adam(net.parameters(), lr=step)
    hist = []
    for ep in range(n_epochs):
        order = torch.randperm(len(xs))
        acc = 0.0
        for j in range(0, len(xs), bs):
            b = xs[order[j:j + bs]]
            l = nn.functional.binary_cross_entropy(net(b), b)   # the loss
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            acc += l.item() * len(b)
        hist.append(acc / len(xs))
        print('ep', ep, hist[-1])
    return hist
'''

UNRELATED = '''
import numpy as np


def windows(series, frame, shift):
    """Cut a series into overlapping frames."""
    starts = range(0, len(series) - frame + 1, shift)
    return np.stack([series[s:s + frame] for s in starts])


def split(x, y, ratio=0.8):
    cut = int(len(x) * ratio)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def normalise(train, test):
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-8
    return (train - mean) / std, (test - mean) / std


def mae(pred, target):
    if pred.shape != target.shape:
        raise ValueError("shapes differ")
    return float(np.abs(pred - target).mean())
'''


def test_tokens_forget_names_literals_comments_and_layout():
    a = normalised_tokens("x = foo(1, 'a')  # note\n")
    b = normalised_tokens("renamed   =   bar(\n    2.5,\n    \"other\",\n)\n")
    assert [t for t, _ in a] == ["Assign", "ID", "Call", "ID", "NUM", "STR"]
    assert [t for t, _ in a] == [t for t, _ in b]                      # the trailing comma is layout too
    assert [line for _, line in b] == [1, 1, 1, 1, 2, 3]             # each token keeps its source line
    assert [t for t, _ in normalised_tokens("for i in x:\n    y = i\n    print(y)")][:2] == ["For", "ID"]


def test_code_that_does_not_parse_falls_back_to_lexical_tokens():
    half = "def f(x):\n    return x +\n"                    # a half-written notebook cell
    assert [t for t, _ in normalised_tokens(half)] == [t for t, _ in lexical_tokens(half)]
    assert [t for t, _ in lexical_tokens("x = foo(1, 'a')")] == ["ID", "=", "ID", "(", "NUM", ",", "STR", ")"]


def test_a_renamed_and_reformatted_copy_scores_high_and_unrelated_code_low():
    assert code_similarity(ORIGINAL, ORIGINAL) == 1.0
    copied = code_similarity(ORIGINAL, DISGUISED)
    unrelated = code_similarity(ORIGINAL, UNRELATED)
    assert copied >= 0.8, copied
    assert unrelated <= 0.2, unrelated


def test_winnowing_is_deterministic_and_sparse():
    tokens = normalised_tokens(ORIGINAL)
    f1, f2 = winnow(tokens), winnow(list(tokens))
    assert f1 == f2
    assert len(tokens) / 10 <= len(f1) <= len(tokens) / 2   # at most about 2/(w+1) of the k-grams


def test_the_report_flags_pairs_and_ignores_starter_code():
    template = ORIGINAL.split("def train")[0]            # the class is given to everyone
    own = {"anna": ORIGINAL, "aron": DISGUISED, "bela": template + UNRELATED, "cili": template}
    report = compare_submissions(code=own, base=[template], threshold=0.7)
    flagged = [(p.a, p.b) for p in report.flagged]
    assert flagged == [("anna", "aron")]
    assert report.pairs[0].kind == "code" and report.pairs[0].similarity >= 0.7
    assert "cili: too little code of its own to compare" in report.not_compared
    assert all(p.similarity < 0.3 for p in report.pairs if "bela" in (p.a, p.b))


def test_copied_training_logs_are_found():
    header = "epoch,train_loss,val_loss\n"

    def log(seed: int, n: int = 30) -> bytes:
        return (header + "".join(f"{e},{(seed * 7919 + e * 104729) % 1000 / 1000:.4f},{e * seed % 97}\n"
                                 for e in range(n))).encode()

    anna = log(1)
    aron = anna.replace(b"\n29,", b"\n29,9")             # the same log with one line touched
    logs = {"anna": {"log.csv": anna}, "aron": {"train.csv": aron}, "bela": {"log.csv": log(2)},
            "cili": {"log.csv": log(3)}, "dora": {"run.csv": anna}}
    report = compare_submissions(code={}, artifacts=logs, threshold=0.7)
    pairs = {(p.a, p.b): p for p in report.pairs if p.kind == "artifact"}
    assert pairs[("anna", "dora")].similarity == 1.0 and "identical: log.csv = run.csv" in pairs[("anna", "dora")].detail
    assert pairs[("anna", "aron")].similarity >= 0.9
    assert all(p.similarity < 0.3 for k, p in pairs.items() if "bela" in k or "cili" in k)


# --- training logs compared as records ---------------------------------------------------------------

N_VAL = 287


def _trials(seed: int, n: int = 60, configs_from: int | None = None) -> list[dict]:
    """A search log's trials: sampled configs (from `configs_from`'s sampler if given) and accuracies."""
    cfg_rng, acc_rng = random.Random(configs_from if configs_from is not None else seed), random.Random(seed + 1000)
    out = []
    for i in range(n):
        config = {"width": cfg_rng.randint(8, 32), "depth": cfg_rng.randint(1, 4), "lr": 10 ** cfg_rng.uniform(-3.5, -1.5),
                  "batch_size": cfg_rng.choice([32, 64, 128]), "dropout": cfg_rng.uniform(0, 0.5),
                  "weight_decay": 10 ** cfg_rng.uniform(-6, -1)}
        out.append({"type": "trial", "trial": i, "config": config, "seed": i, "params": 1000 * config["width"],
                    "val_accuracy": acc_rng.randint(250, 286) / N_VAL, "train_seconds": round(acc_rng.uniform(1, 5), 4),
                    "epochs": 10, "status": "complete"})
    return out


def _jsonl(trials: list[dict]) -> bytes:
    header = {"type": "header", "method": "optuna-tpe", "dataset": "digits", "n_val": N_VAL}
    return "".join(json.dumps(r) + "\n" for r in [header, *trials]).encode()


def _as_csv(trials: list[dict], seed: int = 0) -> bytes:
    """The same trials re-serialised: CSV, columns reordered, floats to 4 digits, rows shuffled and
    renumbered, new timings."""
    rng = random.Random(seed)
    rows = [dict(t) for t in trials]
    rng.shuffle(rows)
    cols = ["status", "config.dropout", "val_accuracy", "config.width", "config.lr", "trial", "config.weight_decay",
            "seed", "config.depth", "config.batch_size", "params", "train_seconds", "epochs"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for n, t in enumerate(rows):
        c = t["config"]
        w.writerow([t["status"], f"{c['dropout']:.4f}", f"{t['val_accuracy']:.4f}", c["width"], f"{c['lr']:.4g}", n,
                    f"{c['weight_decay']:.4g}", t["seed"], c["depth"], c["batch_size"], t["params"],
                    f"{rng.uniform(1, 5):.2f}", t["epochs"]])
    return buf.getvalue().encode()


def _as_optuna(trials: list[dict]) -> bytes:
    """Optuna's trials_dataframe() CSV of the same trials."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["number", "value", "datetime_start", "duration", "params_batch_size", "params_depth", "params_dropout",
                "params_lr", "params_weight_decay", "params_width", "user_attrs_params", "user_attrs_seed", "state"])
    for t in reversed(trials):
        c = t["config"]
        w.writerow([t["trial"], repr(t["val_accuracy"]), "2026-11-23 12:07:19.123", "0 days 00:00:01.284000",
                    c["batch_size"], c["depth"], repr(c["dropout"]), repr(c["lr"]), repr(c["weight_decay"]), c["width"],
                    t["params"], t["seed"], "COMPLETE"])
    return buf.getvalue().encode()


def test_a_reserialised_copy_of_a_trial_log_is_found():
    anna = _trials(1)
    logs = {"anna": {"hpo_log.jsonl": _jsonl(anna)}, "aron": {"hpo_log.csv": _as_csv(anna)},
            "emil": {"trials.csv": _as_optuna(anna)},
            "bela": {"hpo_log.jsonl": _jsonl(_trials(2))}, "cili": {"hpo_log.jsonl": _jsonl(_trials(3))},
            # the same sampler seed as anna (the same configs), but her own trainings: not a copy
            "dora": {"hpo_log.jsonl": _jsonl(_trials(4, configs_from=1))},
            "fanni": {"hpo_log.jsonl": _jsonl(_trials(5)[:30] + anna[:30])}}   # half of it copied
    assert not set(_artifact_lines(logs["anna"])) & set(_artifact_lines(logs["aron"]))   # no line in common
    report = compare_submissions(code={}, artifacts=logs, threshold=0.7)
    pairs = {(p.a, p.b): p for p in report.pairs if p.kind == "artifact"}
    flagged = sorted((p.a, p.b) for p in report.flagged)
    assert flagged == [("anna", "aron"), ("anna", "emil"), ("aron", "emil")], flagged
    assert pairs[("anna", "aron")].similarity == 1.0 and "60 matching records" in pairs[("anna", "aron")].detail
    assert 0.45 <= pairs[("anna", "fanni")].similarity <= 0.55
    assert ("anna", "dora") not in pairs or pairs[("anna", "dora")].similarity < 0.2
    assert all(p.similarity < 0.2 for k, p in pairs.items() if "bela" in k or "cili" in k)


def test_records_match_at_the_precision_both_were_written_with():
    full = log_records({"a.jsonl": b'{"lr": 0.004815573400076287, "acc": 0.9825783972125436, "t_seconds": 1.2}\n'})
    short = log_records({"b.csv": b"acc,lr,wall_time\n0.983,0.0048,9.9\n"})
    other = log_records({"c.csv": b"acc,lr\n0.979,0.0048\n"})
    assert [n.value for n in full[0].numbers] == [0.004815573400076287, 0.9825783972125436]   # no timing
    assert [n.result for n in full[0].numbers] == [False, True]                          # a config, a result
    assert records_match(full[0], short[0]) and not records_match(full[0], other[0])
    assert log_records({"d.txt": b"epoch 1: loss 0.1234, accuracy 0.5678\n"}) == []   # free text: lines only
