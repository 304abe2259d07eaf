"""Pictures for feedback, without matplotlib: image grids and simple line plots as PNG bytes."""
from __future__ import annotations

import struct
import zlib

import numpy as np


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an (H, W) or (H, W, 3) array with values in [0, 1] (or uint8) as PNG."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype(np.float64)), 0, 1) * 255 + 0.5).astype(np.uint8)
    if a.ndim == 2:
        color = 0
    elif a.ndim == 3 and a.shape[2] == 3:
        color = 2
    else:
        raise ValueError(f"expected (H, W) or (H, W, 3), got {a.shape}")
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def grid(images: np.ndarray, *, columns: int = 8, scale: int = 1, pad: int = 1) -> np.ndarray:
    """Tile (N, H, W), (N, H, W, 3) or (N, C, H, W) images in [0, 1] into one image."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    n, h, w = x.shape[:3]
    rows = -(-n // columns)
    shape = (rows * (h + pad) + pad, columns * (w + pad) + pad) + x.shape[3:]
    out = np.ones(shape)
    for i in range(n):
        r, c = divmod(i, columns)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[i]
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def line_plot(series: dict[str, list[float]], *, width: int = 360, height: int = 200) -> np.ndarray:
    """A minimal multi-series line plot (RGB, white background) for loss curves."""
    colors = [(0.12, 0.47, 0.71), (1.0, 0.5, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16)]
    img = np.ones((height, width, 3))
    m = 10
    img[m:height - m, m] = img[height - m, m:width - m] = 0.6  # axes
    values = [v for ys in series.values() for v in ys if np.isfinite(v)]
    if not values:
        return img
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1
    for k, ys in enumerate(series.values()):
        ys = np.asarray(ys, dtype=np.float64)
        if len(ys) < 2:
            continue
        xs = np.linspace(m + 1, width - m - 1, len(ys))
        py = height - m - 1 - (np.nan_to_num(ys, nan=lo) - lo) / (hi - lo) * (height - 2 * m - 2)
        fine = np.linspace(0, len(ys) - 1, 4 * width)
        px = np.interp(fine, np.arange(len(ys)), xs).astype(int)
        pyy = np.interp(fine, np.arange(len(ys)), py).astype(int)
        for dy in (0, 1):
            img[np.clip(pyy + dy, 0, height - 1), np.clip(px, 0, width - 1)] = colors[k % len(colors)]
    return img
