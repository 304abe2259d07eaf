"""grader/boundary/inside/protocol.py: values cross intact, and anything malformed is a ProtocolError (never another
exception, never a big allocation, never code run)."""
from __future__ import annotations

import collections
import json
import math
import socket
import struct
import time
import tracemalloc

import numpy as np
import pytest
import torch

from grader.boundary.inside.protocol import (HEADER, MAGIC, MAX_DEPTH, MAX_ITEMS, MAX_JSON_BYTES, Channel, ChannelClosed,
                             ChannelTimeout, Handle, ProtocolError, decode, encode)


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield Channel(a, max_frame_bytes=1 << 20), Channel(b, max_frame_bytes=1 << 20), a, b
    a.close()
    b.close()


def through(pair, value, **kw):
    """Send `value` over a real socket pair and decode it on the other side."""
    left, right, _, _ = pair
    left.send_value({"ok": True}, value)
    body, buffers = right.recv(deadline=time.monotonic() + 5)
    assert body["ok"] is True
    return decode(body["value"], buffers, **kw)


# --- round trips ---------------------------------------------------------------------------------

def test_nested_plain_values_round_trip(pair):
    value = {"a": [1, 2.5, None, True, "é"], "t": (1, (2, [3, {"x": ()}])), 7: "int key", (1, "k"): "tuple key",
             "empty": {}, "bytes": b"\x00\xff" * 10, "neg": -3}
    got = through(pair, value)
    assert got == value
    assert isinstance(got["t"], tuple) and isinstance(got["t"][1], tuple) and isinstance(got["t"][1][1], list)


def test_non_finite_floats_and_big_integers(pair):
    got = through(pair, [float("nan"), float("inf"), float("-inf"), 2 ** 100, -(2 ** 80), 2 ** 63 - 1, -(2 ** 63)])
    assert math.isnan(got[0]) and got[1:3] == [math.inf, -math.inf]
    assert got[3:] == [2 ** 100, -(2 ** 80), 2 ** 63 - 1, -(2 ** 63)]
    body, _ = encode([2 ** 64, float("nan")])
    assert body == [{"$bigint": str(2 ** 64)}, {"$f": "nan"}]
    json.dumps(body, allow_nan=False)  # the body itself is strict JSON


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                   "float64", "complex64", "complex128"])
def test_numpy_arrays_round_trip(pair, dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 3).astype(dtype)
    got = through(pair, {"a": a, "empty": np.zeros((0, 5), dtype=dtype), "scalar": np.array(3, dtype=dtype)})
    for key, want in (("a", a), ("empty", np.zeros((0, 5), dtype=dtype)), ("scalar", np.array(3, dtype=dtype))):
        assert type(got[key]) is np.ndarray and got[key].dtype == want.dtype and got[key].shape == want.shape
        assert np.array_equal(got[key], want)


def test_torch_tensors_round_trip(pair):
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    t[0, 0] = float("nan")
    param = torch.nn.Parameter(torch.ones(2, 2))
    got = through(pair, [t, t.t(), t.to(torch.bfloat16), param, torch.tensor(5), torch.Size([2, 3]), torch.float16])
    assert isinstance(got[0], torch.Tensor) and torch.equal(got[0].nan_to_num(-1), t.nan_to_num(-1))
    assert torch.equal(got[1].nan_to_num(-1), t.t().nan_to_num(-1))  # a transposed (non-contiguous) view
    assert got[2].dtype == torch.float32  # bfloat16 is widened by the sender
    assert type(got[3]) is torch.Tensor and torch.equal(got[3], torch.ones(2, 2))  # a plain tensor, not a Parameter
    assert got[4].shape == () and got[4].item() == 5  # 0-d stays 0-d
    assert got[5] == (2, 3) and got[6] == "torch.float16"
    as_np = through(pair, t, as_torch=False)
    assert type(as_np) is np.ndarray and as_np.shape == (3, 4)


def test_numpy_scalars_and_ordered_dicts_become_plain(pair):
    got = through(pair, collections.OrderedDict([("w", np.float32(1.5)), ("n", np.int64(3)), ("b", np.bool_(True))]))
    assert got == {"w": 1.5, "n": 3, "b": True}
    assert type(got) is dict and type(got["w"]) is float and type(got["n"]) is int and type(got["b"]) is bool


def test_other_objects_are_handles_or_refused():
    class Model:
        def __eq__(self, other):
            raise AssertionError("never called")

    with pytest.raises(ProtocolError, match="cannot send a value of type Model"):
        encode(Model())
    body, _ = encode([Model(), len], make_handle=lambda obj: 7)
    got = decode(body, [])
    assert got[0] == Handle(7, "Model", False) and got[1] == Handle(7, "builtin_function_or_method", True)
    # subclasses of plain types are not plain: their methods stay in the worker
    body, _ = encode(type("EvilInt", (int,), {})(3), make_handle=lambda obj: 1)
    assert body["$handle"] == 1


# --- malformed values ----------------------------------------------------------------------------

ARRAY = {"$array": 0, "dtype": "float32", "shape": [2], "kind": "numpy"}


@pytest.mark.parametrize("body,buffers,message", [
    ({"$evil": 1}, [], "unknown tag"),
    ({}, [], "unexpected JSON value"),
    ({"$f": "1e999"}, [], "malformed float"),
    ({"$f": ["nan"]}, [], "malformed float"),
    ({"$bigint": "12a"}, [], "malformed integer"),
    ({"$bigint": "9" * 5000}, [], "malformed integer"),
    ({"$bigint": "--5"}, [], "malformed integer"),
    ({"$bigint": "\u00b2"}, [], "malformed integer"),          # '²'.isdigit() is True, int('²') fails
    ({"$bigint": 5}, [], "malformed integer"),
    ({"$handle": -1}, [], "malformed handle"),
    ({"$handle": True}, [], "malformed handle"),
    ({"$handle": "0"}, [], "malformed handle"),
    ({"$tuple": "abc"}, [], "expected a list"),
    ({"$dict": [[1]]}, [], "malformed dict entry"),
    ({"$dict": [[[1, 2], 3]]}, [], "dict keys must be plain values"),
    ({"$dict": [[{"$tuple": [[1]]}, 3]]}, [], "dict keys must be plain values"),   # a tuple holding a list
    ({"$bytes": 3}, [b"x"], "missing buffer"),
    ({**ARRAY, "dtype": "object"}, [b"\0" * 8], "not allowed"),
    ({**ARRAY, "dtype": "<U4"}, [b"\0" * 8], "not allowed"),
    ({**ARRAY, "dtype": "float32", "shape": [3]}, [b"\0" * 8], "does not match"),
    ({**ARRAY, "shape": [2 ** 39, 2 ** 39]}, [b"\0" * 8], "does not match"),   # 2^78 elements: never allocated
    ({**ARRAY, "shape": [-2, -1]}, [b"\0" * 8], "malformed shape"),
    ({**ARRAY, "shape": [True, 2]}, [b"\0" * 8], "malformed shape"),
    ({**ARRAY, "shape": "2"}, [b"\0" * 8], "malformed shape"),
    ({**ARRAY, "shape": [1] * 40}, [b"\0" * 4], "malformed shape"),
    ({**ARRAY, "$array": 5}, [b"\0" * 8], "missing buffer"),
    ({**ARRAY, "$array": True}, [b"\0" * 8], "missing buffer"),
])
def test_malformed_values_raise_protocol_error(body, buffers, message):
    with pytest.raises(ProtocolError, match=message):
        decode(body, [memoryview(b) for b in buffers])


def test_deep_nesting_is_refused_both_ways():
    deep = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nested deeper"):
        encode(deep)
    body = []
    for _ in range(MAX_DEPTH + 5):
        body = [body]
    with pytest.raises(ProtocolError, match="too deep"):
        decode(body, [])
    body = {"$tuple": []}
    for _ in range(MAX_DEPTH + 5):
        body = {"$tuple": [body]}
    with pytest.raises(ProtocolError, match="too deep"):
        decode(body, [])


def test_too_many_items_are_refused():
    with pytest.raises(ProtocolError, match="too large"):
        decode([0] * (MAX_ITEMS + 1), [])


# --- malformed frames ----------------------------------------------------------------------------

def frame(magic=MAGIC, body=b"{}", binary=b"", json_len=None, bin_len=None) -> bytes:
    return HEADER.pack(magic, len(body) if json_len is None else json_len,
                       len(binary) if bin_len is None else bin_len) + body + binary


@pytest.mark.parametrize("raw,message", [
    (frame(magic=b"HTTP"), "bad magic"),
    (frame(json_len=MAX_JSON_BYTES + 1), "exceeds"),
    (frame(bin_len=2 ** 62), "exceeds"),
    (frame(body=b"{not json"), "bad JSON"),
    (frame(body=b"[" * 100_000 + b"]" * 100_000), "bad JSON"),
    (frame(body=b"[1, 2]"), "not an object"),
    (frame(body=b'{"buffers": [4]}', binary=b"abcdefgh"), "do not add up"),
    (frame(body=b'{"buffers": [-4, 12]}', binary=b"abcdefgh"), "do not add up"),
    (frame(body=b'{"buffers": "8"}', binary=b"abcdefgh"), "do not add up"),
])
def test_malformed_frames_raise_protocol_error(pair, raw, message):
    _, right, sender, _ = pair
    sender.sendall(raw)
    with pytest.raises(ProtocolError, match=message):
        right.recv(deadline=time.monotonic() + 5)


def test_a_lying_header_allocates_nothing(pair):
    """A header announcing exabytes is refused before any buffer is allocated."""
    _, right, sender, _ = pair
    sender.sendall(struct.pack(">4sIQ", MAGIC, 2 ** 32 - 1, 2 ** 64 - 1))
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match="exceeds"):
            right.recv(deadline=time.monotonic() + 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_send_refuses_oversized_messages(pair):
    left, _, _, _ = pair
    with pytest.raises(ProtocolError, match="exceeds the 1 MB limit"):
        left.send_value({"ok": True}, np.zeros(300_000))  # 2.4 MB > the 1 MB cap of this channel


def test_silence_is_a_timeout_and_a_closed_peer_is_closed(pair):
    _, right, sender, _ = pair
    start = time.monotonic()
    with pytest.raises(ChannelTimeout):
        right.recv(deadline=time.monotonic() + 0.2)
    assert time.monotonic() - start < 2
    sender.sendall(frame()[:7])  # half a header, then the peer goes away
    sender.shutdown(socket.SHUT_RDWR)
    with pytest.raises(ChannelClosed):
        right.recv(deadline=time.monotonic() + 5)
