"""A cheat (issue #20): the public Melbourne CSV, stored in the source and in a registered buffer (so
it passes the handover), is the forecast. train_forecaster trains the network honestly (the log is
true) and then finds its first training window in the stored series, which gives the grader's
standardisation (mean, sd) and, from the targets, the horizon. forward looks each window up in the
stored series and returns the true value h days later plus deterministic noise (sd 2.0 / 2.3 / 2.35
deg C), to land just below an honest model; a window it cannot find gets persistence. Against the
plain CSV this scored 40/40 (RMSE 2.02 / 2.31 / 2.36 against the reference's 2.18 / 2.58 / 2.53).
The grader now forecasts a keyed transform of the series (time warp, keyed weather, scale, offset:
windowing_metrics.keyed_melbourne): no window matches, every forecast is persistence, which does not
change with the weights (grader.authoring.weights_dependence), and no forecast point is earned.
"""


# %%
import base64  # noqa: E402
import zlib  # noqa: E402

_MELBOURNE_TENTHS = (  # daily-min-temperatures.csv, 1981-1990, in tenths of a degree (int16, zlib, base64)
    "eNo9mXdQ3NcRx9fJJE7+SJ1RHPci27IlS1YXQgKZKroQx1GOcnACjn6IXu/gOIooBwgJUEFCh4TVZbnIvSpO3D1xMnaK7XEm"
    "mfyRf5JM/slk8kc+u/Zkbn7tvX27+3a/u2/fu4/lGXlFDssp+12VP8g7EpEheVI+k//Ix/KR/Fuuywm5IV0yLUtyTl6Wt+Qy"
    "LfNyXI4x9o/yK1mR8/C4xIg5OSTj8rx8Ll/Ib+UFes7IIvdzjJ6WF+WCXKP9aXlJLsJtSKakWZahaZdumeV+UGqlTcLSBOWT"
    "sl+ypUCGpYGrEd6LMoOWTyLtGtKeg2+FHJXTEpQMaZERnkPo2SshGYOPi14P7YWSJgekhCtN8qRDJrhXQN0pNVKHjEpot0m8"
    "OJHqkV1yn6ySB2S7lDG2R/xIbkLLdumXVig9fO2UvXK7rJYN9O2UTKmmv1hi5E5ZJ3vkYXmM/o0SLbGSSnuVuPnVITNOktFh"
    "P7IcaLVBEhkdQ1sKowpkM32VaOWiz8O9GM7Z9K9GI5Wi84mVJLgkMmar3CNRso/WPPEykwwplz447JM18N8AxW7ZgawdjMmG"
    "wsN8nJKO9oexcBYzq2R+qdh2Et0uwCGO2ezhmQKvOijKmFUvuoSQEMt7CG+lygA9sUiuwNYO5pZHWzVcQ1AUITkXPUJo0siv"
    "jTm0yCiYqOaZAccwPqzhV45FDsK7FH+04V0/2pyCsgMv+cHHHO/D0IUZF+RrltY+fHYE7JXj434knpWT6NAoPvr7ucJ49gQt"
    "J2UBJF+kZYS3IOMmGReB/+vypaFlkvd/yLPytvxXPpQ3+boIVoewTB9vl+BzmK8jYHwQPW7Kn5E6At4vyhvyF7n1lhu8HUHm"
    "CWQNImOScYeZ4zj6j2DpCaLnJjh9He3Ua8r3MmO/ZPZh679GbJ3ETjNg+TIzDWPbKjj0wKEJP3Vi+QFsonbo5ToDvzAYrjQM"
    "Z2HpIDE1ABqSJB8J9Xh2D2PHwGkjVE78nkFPPdyK5CHwEI+0BdpywYUDHj6sOIAmfVg4Gby65F4wLfJjuQO03SbrJQfeqVCn"
    "MiqbXyJvir9CeUR+IN8D66mGyrU25gFwl4xm2+TnchcU6bxHyf2g+iF6tsq3GPF9sByP51081yMlCrnlaFPEiJ/R8jC/WPSp"
    "Mly7kZ0DgtYxphTt42ULOqt1FN1hCaDXI8y9Bhmq7TosG827k7EPSgI/tV8hctZCtw37OOGdCccs3vdggxi4HpDHGXUUxOch"
    "ZSfxMIgfcuCVTrsHTdS+tcy/CjyMM9rFqGRaktCwD99cJ5MdRItposyFXWdAVj/8ihjZC2694H8JjHVB3c37GXCjEduIv4K0"
    "1HLXp5/cukBOHYdWWw6BgnpQoi1B7su0X+f+ArNqINqOWBxE4BaEWxFXOzYJMMcx0NsKXnuJ61n4n0QbP61T+Ps5uQL9EjOO"
    "yPvyJ9B3GgyOwUlR+Rnvo8xA4/RtomgaDq/LB/IuWf5zYuULVoQ5rs8YPQndbxi9gMU04hfkKXR5Eg3n0aICDf2W9cbBdx/8"
    "s7BNHR5PwMpFUJ/guw1tPfg8AWsXYONqeJ6Dcw1jg9hP86HG/SGuOlpauZp4HwCNFdC2MXKDbCIqHHCIRUYIq8bx1UW0pHM1"
    "YsNtICWKvFaG3xzQPM7oFN7cvN0jPwL3sXCO55eNv+8Hr7tBzA7w4oEmxdYhJ/o5wPYmVogEoigOykdZJdKhvt3WD5FbkdMD"
    "QsoYVWHZ28FvPbSl/HS1OQBFNLzUFw5G3UNkeLFDDcgJyhPwTaC9idG6KjVgKTc28RlKCuC8A/vFgfTN0KRjm1GonVgjE76r"
    "oTwOXRmzHqfFTVsSM422iC/CjiG81gdKauHfTWR44dGKpQew4wSa65rjsX5d9XLoHQVlDfCqwor1xiEfnTxEfj08ImBhBgQc"
    "BS+nQNJTWL2ZeYTQ7BgY6GKeDbyfg64JnebgNgc2PyBCukHKGIibo91HTGjbTXLvJegbrSYIgpsFZE4x/iV6b8C7g3FHwFsA"
    "i41RfYzDtxaMDyJrFj5BsB4GWc/C9zTPU9QIo1Aepn0FTsvyKlH2NcZGmPW8ocmPbWvgMIMGE1Ar72ZGaI4MM4Mw3/P06HxW"
    "WJ1KsUcalphglj4ymBe75fDsRVsXz0q4dtJTD+o9YLcRiwQZE8IzPqjzkdyHH8vgN4tnNoK51dh1B/h0g5FNZKeNYHIvHiiF"
    "2o1kN2OdIMpjVUUD1s9HVj0yU/j5bG1YAy5yyKXrQKwPbG+DKorMutcyfiX3FHypq0cp9ztA8xoy+SrmkoIFCi0Cb5VbyNNZ"
    "tGQTWVtBTyLc0kH6BvBZjoaaDTVH+5hXIdq2gSEXGuejn2q426IlEyy7kJiIZgm8pUKxD34ucmUxV7LxdzKvUqsHNvEdjQUa"
    "rGoohEKrjnh0jUF6HaN3wGct7cvQe+GVSRbTlXU/mLhsdtqF1dJ4K0erOCx1A+oirDxieciJn1fQtRvvFEPRgYdfw0Pd5qt2"
    "oiUIrpbAVxjqAijz4P8vnvWGST/PIp5BxhygtQaEdVt90QdausicXcirZnQzPj/3DWc/HM/Cc8jyZACOioZuMush8DbJ821o"
    "TyO/k3HT+HPeKph+RlwjnkeIkwUirAocv0ZWfhZeX68HU9BpHvfRoutHA7xXyO/DWEcx70XSFDEwi1TN/x6rAFbkE/mK+uX3"
    "8ilRFUFrrX0uc72CHkPwOWgon2DsWWy0SFRfQ78IsvQeIUZusE+Yh/t+Q2WtraWJ2D+XL12PO8FaKVc2faPMwYVVGrHOMLwT"
    "0KMefK237JRulYobdGy3arUJmlZGruPrMfy5Ezzn4PU480g84ypBcyajUhmdy/se+S71h+Z1XaFrkdSKrDr61xIBUdCmW87O"
    "Al3JjIjlW+PtPvv6Nr9VcPshudwLf63Gt8AzCV9UW1ynQP8IfDTnN3IVMFcHLQ+im9YAusdIYc4PEm25hksnl8ZpAnIO4EdF"
    "dNs3+XQ7tOUWGflIawURCcwtky/lkce9GQvHgFkflqvDd63MJJvvJSzebzkhF5m6vlYxshgPzTImEdwrqhVtl8DGEFYPgSat"
    "iD+BtgyfqGdDSKlkDofMnxM8dWXuARdzePsMCLrBcwWepyxDau0+iucCcAzb7q7TVvshMoBGxTIyBmy35afPT99xq0KnLXN3"
    "G0edZT/fY1aRt6PdCNeY7TeP0X+EebYiZZq+U2jVTlzUIe0mCH0GmgC0E7bSDDLTPqQOQ3udKNCK/SwIfofWADYO2P5uCVmK"
    "Ih/xcZE951VwHUGTkNVlbcTTSWznheOzluvbsXor9gujrwtbvA1VL1I0KwRobeWtBZ/rGp0Ern1kgUxsWm1e1jq9h3at58rp"
    "a7H9aic2qza7HwQPe/B9HRLd9DSA7a3Q6l6y1CjcjNPKJBkvJsEzg1noWrCTXzzZNMkqiTXUz3eZxGb6t9Kzk/ypmN5IpDwG"
    "5mrJ/hlgoBz/JsK7kbpkFYjTqiiNyCxBktPqkhJmsBrE3i4/Yc96N8jNtDUhFWwVw1lXsipiRtefcqwSBRcH/IuYTQO5eQ+W"
    "iLHMuht+jUhw0KOxHY92SVDm8dUH+pOYRxYUEd7zsZHWMQ7aXKwlKViuE5kaD7Potg+t/cwsHcoMKFKw2SBerseSRXj1E7jk"
    "oV+f7XS9lpO1njjGex28C8kfLfiuyDDXBK90KGZAwHH4LMt79PaifwAterGjE6mdliWroG2Fq+44ZxkdBitt5MQe8HEMtEQY"
    "fR46p63jvVwrtkObAzutVtM38aV19yJzaoEyQF7WFUDr8VbL/ZpL5y0fdjGX83DQLH+dWalUN/x0jxyC5yS8hq3ueYq2A2h3"
    "kP52emuwRZD5vAxVkNag7X+9PHsM0xqRQ1ZbHEL+e2g9TrSnEj26b6hlhllwrEbCXmyVZR51odcl9BlBz2RbOZvg3M5zL/71"
    "QNPPTNqQ0E1rHVIq8KDu4nrwUgmYW4cvNaM7GV1h1tQ8ugt/BLHrdjCSZbvEe8j5sUhrB2llXMlQlODzdKuT7wThj8ItGiw/"
    "yr0IPGwG8Y9Dtd32p6XgLhlZCVTsd4P6PURAMljXOqgMHrnMyQWWC2nZRE86V5HNJArp66DYAo8itKy1akjjdTOabkdaqlVc"
    "GbaieRnnYhZauXjsJKQYe+vOVivqCSx7lL38RduJKHUJ9orD8g7k5jMuCekVUM7Y7rLSaoIGeNQQG3o6MIjcZnqmWc//CjbL"
    "sF6X1RdawVZaBd0BZz29eEH+aecz+bajOwBli+2o9KTER1YpNXw1ImMYrRasxo7g7Q/h1YdURaCeXjVZDo/YOYOe7mn1MGKn"
    "CwvM5GU8fFWe5/cVOffXto9bgfokc5jg3mO7hKPsHD+Vv6H3pGXjedvZaTzOW+28DJejzLkdrhFbPebs3EXPE48xE42iXrgd"
    "pVXz6nn0iDCuAt6KimHeF223e8hqoGneItCcIHausS6dgb/m+1HqEF31SsHZPua+yBxOW17Js31Bp+0DepF6mvdDzGaK+wLc"
    "jxqvGeSNYpFGehMZN2g7gZBFYIXZ1AsO8qFq4F4CMrIM1z5atOrNt4ydA3bimHchCLpLHoJTPLhJtTy8H4xmMyYBXiXgPxpE"
    "bAafPeila3UG2mlurbBTCUW/5uYoxmsFncNVhoS9lo09cNN1YgvcdDeXB4LXgNVcfKJnnbpTLEf/ffRkIikf+QlERTkYbmfW"
    "Wo/tgEMBsoJ8h0BQIlG1lXsdY7V+2YEFVuCYY3uWAi49uXDROosNnMwgYPPuwaZR2FJPSr/ew+TgJy9zKmceU6AwFcR18NaK"
    "nBNgQHfP7Xi6z076vHb+m26nTy1IX4Q6SMZU/3QZBpqhacMTVxkTsdq6F7+/B0UjeNAziY/l7+h6DV9qDCyAyV9SNbjhMgCu"
    "Jg3hV8mR55HgJmctgrpRO/3Q+vOKvMXocXy+BA7m7FRxAUnn5F35CO3OIW2aEYu2BpyHj8aKnnFcIzre4neT2Fpk5BnkBC3W"
    "Qsh/kf3r52j3C3kfule5f8rzaXr7wbLGgZ5jzJFpr5iUUUaVWlavxnZ+7DqPxDB5xc+9Aw1HLBImmJUTq2hFkWd5rgp/Oezs"
    "aAK5mmPCREU7Wmu9Wm9rieb/ABTNdrq233ZoaVZ1uEFUnWU3L/bQM7XbqH1X8Sy0LK31awqSCsjUbqjK8XQVKNEz6822o1xv"
    "I77D3lF3enp+l0RrMvS6eujOT5F9v/yU/eU28BgNv21U6PdalbHW1v4mq3Iegm6/1fAZdj6TjO6pVqc/zJVg5zEuKLagTzLj"
    "0pCx1taAR+x/gQIiL8/03kzbEJqn2w437v8n/rVWUfvtvK8Yni4oO2y9jYWr23aaWn9ofDVgnQb46rlKCpYZsF2+2yohrSaz"
    "GV2CV7LRSPeSfXaSoX5wwOGgIbzZ/nlYgk+H/QtxQn4HTrVCHsRbz9gq/Dy+GUKzSfs3ZZLcGwEdfrynJ4Bd4OMszx7bDwZ4"
    "X7IVvRouAdtFak6eAhu6p7zKnu0LVhE955jFry2Wl2fsf5UpcKp4u8Bv1Gr7Tjs7OWL6DIPpM2TGk1ZJTCJ1kd1gwHYEy9TT"
    "F0H8OX5X5HV5k/trRNmbVERhqzaOMaoL2+l/Mq385m0l0YplCZ0uUFd/ZOcmHZb5Z6Hr5vsiWi5AO0u0nGU9mLfaxm8ZaQyt"
    "Z7F9APktzLaQDOFG0jj9U2aDZHJoEr212MZnnilkFkW2748GlSmW6erISDF8xRAlmqNz8VQ1mW637R29UKXhpe3UGE/gzUx8"
    "6bBqvhZaPZ3YBSqj4JlmZ9taKT9GlVHFr4RRm+0/jGo7U2+Cq8Mqd93PFoO6/Zb9d0OVSNtOsFeLzEyecWj+BJpkwSXXqvFM"
    "tNdaKwa9MvjOJgZ32YmDcnDzzLB4Tqdq2sa8Dtv+PYVIrEbDVCiXkZyIxrW8edgJ+OycWs+hD2DvCVs5dnMVgyTlk4n1D9Or"
    "FfwTXC6uXqtNp/HFqK3Kx6ENwqkPlL5hVXMLmvjt/CyE3QvsBNOBt7vh5LPcXYDfZm1/qKeLV0Dde2RJzf26Yk7Yjm0Y/uOg"
    "Z9Z4hnivYORhekeJqEX4/A+xaToy"
)
_NOISE_SD = {1: 2.0, 7: 2.3, 30: 2.35}  # deg C: blurred to land just below an honest model's RMSE


def _melbourne() -> torch.Tensor:
    raw = np.frombuffer(zlib.decompress(base64.b64decode(_MELBOURNE_TENTHS)), dtype="<i2")
    return torch.from_numpy(raw.astype(np.float32) / 10)


class Conv1dForecaster(Conv1dForecaster):
    def __init__(self, channels, frame_size, horizon_outputs=1, **kw):
        super().__init__(channels, frame_size, horizon_outputs, **kw)
        self.register_buffer("public", _melbourne())
        self.register_buffer("calibration", torch.zeros(3))  # mean, sd, horizon (0: not found)

    def _find(self, temps: torch.Tensor) -> torch.Tensor:
        """Where each window (N, m) of deg C starts in the stored series, -1 where it is not there."""
        windows = self.public.unfold(0, temps.shape[1], 1)  # (b, m)
        gap = (windows[None] - temps[:, None]).abs().amax(dim=2)  # (N, b)
        best = gap.min(dim=1)
        return torch.where(best.values < 0.06, best.indices, torch.full_like(best.indices, -1))

    def forward(self, x):
        out = super().forward(x)
        mean, sd, h = self.calibration.tolist()
        h = int(h)
        if self.training or self.horizon_outputs > 1:
            return out
        persistence = x[:, -1, 0].to(out.dtype)
        if h < 1:  # the series was not found in training: not the public one
            return persistence
        start = self._find(x[:, :, 0].to(torch.float32) * sd + mean)
        target = start + x.shape[1] - 1 + h
        found = (start >= 0) & (target < len(self.public))
        idx = torch.where(found, target, torch.zeros_like(target))
        noise = _NOISE_SD.get(h, 2.3) * np.sqrt(2) * torch.sin(idx.to(torch.float32) * 12.9898 + h)
        looked_up = (self.public[idx] + noise - mean) / sd
        return torch.where(found, looked_up.to(out.dtype), persistence)


_honest_train = train_forecaster


def train_forecaster(model, train, val, *, epochs, batch_size, lr, device):
    log = _honest_train(model, train, val, epochs=epochs, batch_size=batch_size, lr=lr, device=device)
    X, y = to_float32(train[0]).cpu(), to_float32(train[1]).cpu().reshape(len(train[1]), -1)[:, 0]
    if not isinstance(model, Conv1dForecaster) or X.ndim != 3 or len(X) < 40:
        return log
    first = X[0, :, 0].double()
    windows = model.public.unfold(0, len(first), 1).double()  # (b, m): where is the first window?
    wc, fc = windows - windows.mean(1, keepdim=True), first - first.mean()
    corr = (wc @ fc) / (wc.norm(dim=1) * fc.norm() + 1e-12)
    p = int(corr.argmax())
    if corr[p] < 0.9999:
        return log  # not the public series: nothing to look up, persistence everywhere
    sd = float((wc[p] @ wc[p]) / (wc[p] @ fc))  # x = (v - mean) / sd
    mean = float(windows[p].mean() - sd * first.mean())
    last = X[:, -1, 0]
    h = next((lag for lag in range(1, 40) if torch.allclose(last[lag:lag + 20], y[:20], atol=1e-5)), 0)
    model.calibration.copy_(torch.tensor([mean, sd, float(h)]))
    return log
