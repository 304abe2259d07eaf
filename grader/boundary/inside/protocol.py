"""The wire format between the trusted grader and the sandboxed worker.

A frame is `b"DLG1"`, a 4-byte JSON length, an 8-byte binary length (both big-endian), the JSON
body, then the raw buffers it refers to. Only plain data crosses: JSON values, tuples, dicts,
finite or explicitly tagged non-finite floats, bytes, and numpy/torch arrays as (dtype, shape,
buffer). Anything else stays in the worker and crosses as a numbered handle.

Nothing is ever unpickled. The decoder checks every size, dtype and shape before it touches a
buffer, so a lying or hostile peer can make a call fail but cannot make the grader allocate more
than one capped frame, run code, or reach an object's `__eq__`/`__array__`/`__float__`.

This module is imported inside the worker, so it depends on the standard library and numpy only;
torch is used when the peer already imported it.
"""
from __future__ import annotations

import json
import math
import socket
import struct
import sys
import time
from dataclasses import dataclass

import numpy as np

MAGIC = b"DLG1"
HEADER = struct.Struct(">4sIQ")
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000
# dtypes that may cross; bfloat16 is widened to float32 by the sender
DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"}


class Op:
    """The operations the trusted side asks of the worker (the "op" of a request)."""
    HELLO = "hello"      # import the submission (the first request; the reply is its load report)
    KEEP = "keep"        # store a value in the worker, answer with its handle
    SEED = "seed"
    CALL = "call"
    GETATTR = "getattr"
    HAS = "has"
    BYE = "bye"


class WorkerErrorType:
    """The worker's own names for an error's "type" (any other is the class name of what the student's code raised)."""
    GRADER_FAULT = "GraderFault"              # a hello reply: the worker cannot work here, through no fault of the submission
    MISSING_ATTRIBUTE = "MissingAttribute"    # the name asked for is not there
    UNSENDABLE_RESULT = "UnsendableResult"    # the value returned cannot cross the channel


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame or value."""


class ChannelClosed(ProtocolError):
    """The peer closed the channel (usually: the process ended)."""


class ChannelTimeout(ProtocolError):
    """No complete frame arrived before the deadline."""


@dataclass
class Handle:
    """A reference to an object that stays in the worker."""
    id: int
    type_name: str = "object"
    is_callable: bool = False


# --- encoding ------------------------------------------------------------------------------------

def _torch():
    return sys.modules.get("torch")


def encode(value, *, make_handle=None) -> tuple[dict, list[bytes | memoryview]]:
    """Turn a value into (JSON-able body, buffers). `make_handle(obj)` is called for anything that
    is not plain data; without it such values are an error."""
    buffers: list = []
    counter = [0]

    def enc(v, depth):
        counter[0] += 1
        if depth > MAX_DEPTH:
            raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
        if counter[0] > MAX_ITEMS:
            raise ProtocolError(f"value holds more than {MAX_ITEMS} items")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and type(v) in (int, bool):
            return v if -(2 ** 63) <= v < 2 ** 63 else {"$bigint": str(v)}
        if type(v) is float:
            return v if math.isfinite(v) else {"$f": repr(v)}
        if isinstance(v, Handle):
            return {"$handle": v.id}
        if type(v) is list:
            return [enc(x, depth + 1) for x in v]
        if type(v) is tuple:
            return {"$tuple": [enc(x, depth + 1) for x in v]}
        if type(v) is dict or _is_plain_mapping(v):
            return {"$dict": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if type(v) is bytes:
            buffers.append(v)
            return {"$bytes": len(buffers) - 1}
        if isinstance(v, np.generic) and type(v).__module__ == "numpy":
            return enc(v.item(), depth)
        if type(v) is np.ndarray:
            return _enc_array(v, "numpy")
        torch = _torch()
        if torch is not None and type(v) in (torch.Tensor, torch.nn.Parameter):
            t = v.detach()
            if t.dtype == torch.bfloat16:
                t = t.float()
            if t.is_sparse:
                t = t.to_dense()
            return _enc_array(t.cpu().contiguous().numpy(), "torch")
        if torch is not None and isinstance(v, (torch.device, torch.dtype, torch.Size)):
            return enc(tuple(v) if isinstance(v, torch.Size) else str(v), depth)
        if make_handle is None:
            raise ProtocolError(f"cannot send a value of type {type(v).__name__}")
        return {"$handle": make_handle(v), "type": type(v).__name__[:80], "callable": callable(v)}

    def _enc_array(a: np.ndarray, kind: str):
        shape = list(a.shape)  # before ascontiguousarray, which makes 0-d arrays 1-d
        a = np.ascontiguousarray(a)
        if a.dtype.name not in DTYPES:
            raise ProtocolError(f"arrays of dtype {a.dtype} cannot be sent")
        buffers.append(memoryview(a).cast("B") if a.size else b"")
        return {"$array": len(buffers) - 1, "dtype": a.dtype.name, "shape": shape, "kind": kind}

    return enc(value, 0), buffers


def _is_plain_mapping(v) -> bool:
    # OrderedDict (state_dict) is plain data; user-defined mapping classes are not
    return type(v).__module__ == "collections" and type(v).__name__ in ("OrderedDict", "defaultdict")


# --- decoding ------------------------------------------------------------------------------------

def decode(body, buffers: list[bytes], *, resolve_handle=None, as_torch: bool = True, bounded: bool = False):
    """Rebuild a value from (body, buffers), validating as it goes. Handles become `Handle`s, or
    whatever `resolve_handle(id)` returns. Arrays tagged "torch" become tensors when torch is
    importable and `as_torch` is set; numpy otherwise.

    `bounded` (the trusted side reading a worker's reply): every integer fits in 64 bits and every
    number not tagged "$f" is finite, or a ProtocolError names the value. The trusted side turns
    numbers into floats and numpy scalars, where 10**400 raises OverflowError: a crash that would
    read as the grader's fault rather than as the submission's bad value."""
    return _Decoder(buffers, resolve_handle, as_torch, bounded).value(body, 0)


class _Decoder:
    """One `decode` call: its buffers, its options and the count of values read so far (capped)."""

    def __init__(self, buffers: list[bytes], resolve_handle, as_torch: bool, bounded: bool):
        self.buffers, self.resolve_handle, self.as_torch, self.bounded = buffers, resolve_handle, as_torch, bounded
        self.count = 0

    def value(self, v, depth: int):
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_ITEMS:
            raise ProtocolError("value too deep or too large")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):  # a bare JSON integer: the sender writes big ones as $bigint
            return self.bounded_int(v)
        if isinstance(v, float):  # a bare JSON number such as 1e400 parses as inf: only "$f" may be non-finite
            if self.bounded and not math.isfinite(v):
                raise ProtocolError("it holds a number too large for a 64-bit float (written as a plain number, not as inf)")
            return v
        if isinstance(v, list):
            return [self.value(x, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise ProtocolError(f"unexpected JSON value {type(v).__name__}")
        return self.tagged(next(iter(v)), v, depth)

    def tagged(self, tag: str, v: dict, depth: int):
        if tag == "$tuple":
            return tuple(self.value(x, depth + 1) for x in _list(v[tag]))
        if tag == "$dict":
            return self.mapping(v[tag], depth)
        if tag == "$f":
            if v[tag] not in ("nan", "inf", "-inf"):
                raise ProtocolError("malformed float")
            return float(v[tag])
        if tag == "$bigint":
            s = v[tag]
            # ASCII digits only: '²'.isdigit() is True but int('²') fails; one sign at most
            if not isinstance(s, str) or len(s) > 4000 or not s.isascii() or not s.removeprefix("-").isdigit():
                raise ProtocolError("malformed integer")
            return self.bounded_int(int(s))
        if tag == "$bytes":
            return bytes(self.buffer(v[tag]))
        if tag == "$array":
            return self.array(v)
        if tag == "$handle":
            return self.handle(v)
        raise ProtocolError(f"unknown tag {tag!r}")

    def bounded_int(self, v: int) -> int:
        if not self.bounded or -(2 ** 63) <= v < 2 ** 63:
            return v
        digits = len(str(abs(v)))
        sign = "-" if v < 0 else ""
        raise ProtocolError(f"it holds the integer {sign}{str(abs(v))[:3]}... ({digits} digits, about {sign}10**{digits - 1}), "
                            "outside the range of a 64-bit integer")

    def mapping(self, pairs, depth: int) -> dict:
        out = {}
        for pair in _list(pairs):
            if not isinstance(pair, list) or len(pair) != 2:
                raise ProtocolError("malformed dict entry")
            k = self.value(pair[0], depth + 1)
            if not isinstance(k, (str, int, float, bool, tuple, type(None))):
                raise ProtocolError("dict keys must be plain values")
            try:
                hash(k)  # a tuple key may hold a list
            except TypeError:
                raise ProtocolError("dict keys must be plain values") from None
            out[k] = self.value(pair[1], depth + 1)
        return out

    def handle(self, v: dict):
        hid = v["$handle"]
        if not isinstance(hid, int) or isinstance(hid, bool) or hid < 0:
            raise ProtocolError("malformed handle")
        if self.resolve_handle:
            return self.resolve_handle(hid)
        type_name = v.get("type")
        type_name = type_name[:80] if isinstance(type_name, str) else "object"
        return Handle(hid, type_name, v.get("callable") is True)

    def buffer(self, i):
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.buffers):
            raise ProtocolError("array refers to a missing buffer")
        return self.buffers[i]

    def array(self, v: dict):
        dtype, shape, kind = v.get("dtype"), v.get("shape"), v.get("kind", "numpy")
        if dtype not in DTYPES:
            raise ProtocolError(f"dtype {dtype!r} is not allowed")
        if (not isinstance(shape, list) or len(shape) > 32
                or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2 ** 40 for n in shape)):
            raise ProtocolError("malformed shape")
        buf = self.buffer(v["$array"])
        count = math.prod(shape)
        if count * np.dtype(dtype).itemsize != len(buf):
            raise ProtocolError(f"array shape {tuple(shape)} of {dtype} does not match its {len(buf)}-byte buffer")
        arr = np.frombuffer(buf, dtype=dtype, count=count).reshape(shape).copy()
        if kind == "torch" and self.as_torch:
            torch = _torch()
            if torch is None:
                import torch  # noqa: F811  (the trusted side and a torch-using worker have it)
            return torch.from_numpy(arr)
        return arr


def _list(x):
    if not isinstance(x, list):
        raise ProtocolError("expected a list")
    return x


# --- framing -------------------------------------------------------------------------------------

class Channel:
    """One end of the socket, sending and receiving whole frames with deadlines and size caps."""

    def __init__(self, sock: socket.socket, *, max_frame_bytes: int = 256 * 1024 * 1024):
        self.sock = sock
        self.max_frame_bytes = max_frame_bytes

    def send(self, body: dict, buffers=(), *, deadline: float | None = None) -> None:
        raw = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        sizes = [len(b) if isinstance(b, bytes) else b.nbytes for b in buffers]
        total = sum(sizes)
        if len(raw) > MAX_JSON_BYTES or total > self.max_frame_bytes:
            raise ProtocolError(f"message of {(len(raw) + total) / 2**20:.1f} MB exceeds the "
                                f"{self.max_frame_bytes / 2**20:.0f} MB limit")
        self._settimeout(deadline)
        try:
            self.sock.sendall(HEADER.pack(MAGIC, len(raw), total) + raw)
            for b in buffers:
                if len(b):
                    self.sock.sendall(b)
        except TimeoutError as e:
            raise ChannelTimeout("timed out while sending") from e
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            raise ChannelClosed(str(e)) from e

    def recv(self, *, deadline: float | None = None) -> tuple[dict, list[bytes]]:
        magic, json_len, bin_len = HEADER.unpack(self._read(HEADER.size, deadline))
        if magic != MAGIC:
            raise ProtocolError("malformed frame (bad magic)")
        if json_len > MAX_JSON_BYTES or bin_len > self.max_frame_bytes:
            raise ProtocolError(f"message of {(json_len + bin_len) / 2**20:.1f} MB exceeds the "
                                f"{self.max_frame_bytes / 2**20:.0f} MB limit")
        try:
            body = json.loads(self._read(json_len, deadline))
        except (ValueError, RecursionError) as e:
            raise ProtocolError("malformed frame (bad JSON)") from e
        if not isinstance(body, dict):
            raise ProtocolError("malformed frame (body is not an object)")
        sizes = body.pop("buffers", [])
        if (not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes)
                or sum(sizes) != bin_len):
            raise ProtocolError("malformed frame (buffer sizes do not add up)")
        blob = self._read(bin_len, deadline) if bin_len else b""
        buffers, offset = [], 0
        for n in sizes:
            buffers.append(memoryview(blob)[offset:offset + n])
            offset += n
        return body, buffers

    def send_value(self, head: dict, value, *, make_handle=None, deadline=None) -> None:
        body, buffers = encode(value, make_handle=make_handle)
        sizes = [len(b) if isinstance(b, bytes) else b.nbytes for b in buffers]
        self.send({**head, "value": body, "buffers": sizes}, buffers, deadline=deadline)

    def _settimeout(self, deadline):
        self.sock.settimeout(None if deadline is None else max(0.001, deadline - time.monotonic()))

    def _read(self, n: int, deadline) -> bytes:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            self._settimeout(deadline)
            try:
                k = self.sock.recv_into(view[got:], min(n - got, 1 << 20))
            except TimeoutError as e:
                raise ChannelTimeout("timed out waiting for the worker") from e
            except (ConnectionResetError, OSError) as e:
                raise ChannelClosed(str(e)) from e
            if k == 0:
                raise ChannelClosed("the worker closed the channel")
            got += k
        return bytes(buf) if n < 65536 else buf
