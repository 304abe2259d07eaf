"""The worker's output (stdout and stderr, one pipe), drained so the worker never blocks on it.

Only the head and the tail are kept (`OUTPUT_KEEP` bytes each), with a note of how much was skipped;
past its cap the reader calls `on_flood` once (the session then stops the worker and says why).
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable

OUTPUT_KEEP = 16 * 1024  # bytes of the worker's output kept from its start and from its end


class OutputReader(threading.Thread):
    """Drains the worker's stdout+stderr so it can never block, keeping the head and the tail."""

    def __init__(self, stream, cap_bytes: int, on_flood: Callable[[], None]):
        super().__init__(daemon=True)
        self.stream, self.cap, self.on_flood = stream, cap_bytes, on_flood
        self.head = bytearray()
        self.tail: collections.deque = collections.deque()
        self.tail_len = 0
        self.total = 0
        self.flooded = False

    def run(self):
        while True:
            try:
                chunk = self.stream.read1(65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self.total += len(chunk)
            if len(self.head) < OUTPUT_KEEP:
                take = OUTPUT_KEEP - len(self.head)
                self.head += chunk[:take]
                chunk = chunk[take:]
            if chunk:
                self.tail.append(chunk)
                self.tail_len += len(chunk)
                while self.tail_len - len(self.tail[0]) > OUTPUT_KEEP:
                    self.tail_len -= len(self.tail.popleft())
            if self.total > self.cap and not self.flooded:
                self.flooded = True
                self.on_flood()

    def text(self) -> str:
        tail = b"".join(self.tail)[-OUTPUT_KEEP:]
        skipped = self.total - len(self.head) - len(tail)
        middle = f"\n[... {skipped} bytes of output skipped ...]\n" if skipped > 0 else ""
        return (bytes(self.head) + middle.encode() + tail).decode("utf-8", "replace")
