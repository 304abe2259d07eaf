"""Pictures for feedback, drawn on the trusted side from what the grader measured: labelled image
grids (a row label per row) and plots with axes, ticks, units and a legend, as RGB arrays that
`Feedback.image` stores as PNG.

Plots use matplotlib's object API (a `Figure` per picture, the Agg canvas, no pyplot state), so
tests drawing in threads do not share a current figure. Sizes are chosen to stay readable when the
page shrinks the picture to a phone's width (about 360 px): 640 px wide, 13 px text."""
from __future__ import annotations

import struct
import zlib

import numpy as np

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
WIDTH, HEIGHT, DPI = 640, 340, 100
FONT = 10  # points at 100 dpi: about 14 px, about 8 px once a phone shrinks the picture to 360 px
# values a plot draws: matplotlib's tick and layout arithmetic overflows near 1e308 ("arange: cannot
# compute length"), and a submission's log may hold anything; nothing a picture shows is that large
PLOT_LIMIT = 1e100


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
    """Tile (N, H, W), (N, H, W, 3) or (N, C, H, W) images in [0, 1] into one image (no labels)."""
    x = _hwc(images)
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


def _hwc(images) -> np.ndarray:
    """(N, H, W) or (N, H, W, 3) float images from any of the layouts tests hand in."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    return x


def _figure(width: int, height: int):
    from matplotlib.figure import Figure  # imported here: the worker and `check --help` never need it
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    fig.set_layout_engine("constrained")
    return fig


def _pixels(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _plottable(values) -> tuple[np.ndarray, int]:
    """`values` as float64 with what cannot be drawn (NaN, inf, beyond PLOT_LIMIT, or not a number
    at all) set to NaN, which matplotlib leaves out; and how many were left out."""
    try:
        a = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError, OverflowError):  # 10**400, a string: one by one
        a = np.array([_number(v) for v in np.asarray(values, dtype=object).ravel()], dtype=np.float64)
    drawable = np.isfinite(a) & (np.abs(np.nan_to_num(a)) <= PLOT_LIMIT)
    return np.where(drawable, a, np.nan), int(np.count_nonzero(~drawable))


def _number(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _left_out(name, shown: np.ndarray, left_out: int) -> str:
    """The legend's words for a series, saying what the picture could not draw."""
    if not np.isfinite(shown).any():
        return f"{name} (no finite values)"
    if left_out:
        return f"{name} ({left_out} value{'s' if left_out > 1 else ''} not drawn: NaN, infinite or beyond ±{PLOT_LIMIT:.0e})"
    return str(name)


def _style(ax, *, xlabel: str, ylabel: str, title: str, legend: bool) -> None:
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel(ylabel, fontsize=FONT)
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=FONT - 1, frameon=False)


def line_plot(series: dict, *, xlabel: str = "step", ylabel: str = "value", title: str = "",
              x=None, logy: bool = False, start: int = 1, marks: dict | None = None,
              width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Curves with labelled axes, ticks and a legend (one entry per key of `series`), as RGB.

    x: the shared x values (default start, start + 1, ...: epochs numbered from 1); a series of
    non-finite values only is listed in the legend as "(no finite values)". marks: single points
    ({"label": (x, y)}) drawn as diamonds, e.g. what the grader measured beside a logged curve."""
    fig = _figure(width, height)
    ax = fig.add_subplot()
    drawn = {}
    for k, (name, ys) in enumerate(series.items()):
        ys, left_out = _plottable(ys)
        xs = np.arange(start, start + len(ys)) if x is None else _plottable(x)[0][:len(ys)]
        ys = ys[:len(xs)]
        drawn[name] = ys
        label = _left_out(name, ys, left_out)
        ax.plot(xs, ys, color=COLORS[k % len(COLORS)], lw=1.6, label=label,
                marker="o" if len(ys) <= 20 else None, ms=3)
    for k, (name, (mx, my)) in enumerate((marks or {}).items()):
        ax.scatter(_plottable(np.atleast_1d(mx))[0], _plottable(np.atleast_1d(my))[0], marker="D", s=44, zorder=5, label=str(name),
                   color=COLORS[k % len(COLORS)], edgecolors="black", linewidths=0.8)
    if x is None:
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and steps are whole numbers
    if logy and all((v[np.isfinite(v)] > 0).all() and np.isfinite(v).any() for v in drawn.values()):
        ax.set_yscale("log")
    _style(ax, xlabel=xlabel, ylabel=ylabel, title=title, legend=bool(series or marks))
    return _pixels(fig)


def scatter_plot(groups: dict, *, xlabel: str, ylabel: str, title: str = "", logx: bool = False,
                 diagonal: str = "", width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Points in labelled groups ({"label": (x, y)}), axes labelled, a legend, as RGB.

    diagonal: a label for the line y = x (what agreement between the axes looks like), or none."""
    fig = _figure(width, height)
    ax = fig.add_subplot()
    for k, (name, (xs, ys)) in enumerate(groups.items()):
        (xs, x_out), (ys, y_out) = _plottable(xs), _plottable(ys)
        both = ~(np.isnan(xs) | np.isnan(ys)) if len(xs) == len(ys) else None
        left_out = int(len(xs) - np.count_nonzero(both)) if both is not None else x_out + y_out
        ax.scatter(xs, ys, s=18 if k == 0 else 46, color=COLORS[k % len(COLORS)], label=_left_out(name, xs, left_out),
                   marker="o" if k == 0 else "D", zorder=2 + k, alpha=0.75 if k == 0 else 1.0)
    if diagonal:
        lo, hi = min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], color="#888", lw=1, ls="--", label=diagonal, zorder=1)
    if logx:
        ax.set_xscale("log")
    _style(ax, xlabel=xlabel, ylabel=ylabel, title=title, legend=bool(groups))
    return _pixels(fig)


def image_rows(rows: list, *, columns: int = 10, title: str = "", cell: int = 56) -> np.ndarray:
    """Rows of images, each with its label on the left ("original", "k = 32", ...), as RGB.

    rows: [(label, images)], images (N, H, W), (N, H, W, 3) or (N, C, H, W) in [0, 1]; each row
    shows its first `columns`. `cell` is the pixels per image (small digits are enlarged)."""
    rows = [(str(label), _hwc(images)[:columns]) for label, images in rows]
    n_cols = max((len(x) for _, x in rows), default=1) or 1
    label_px = 110
    fig = _figure(label_px + n_cols * cell + 10, len(rows) * cell + (30 if title else 8) + 4)
    fig.set_layout_engine(None)
    top = (30 if title else 8) / fig.bbox.height
    if title:
        fig.suptitle(title, fontsize=FONT + 1, y=1 - 4 / fig.bbox.height, va="top")
    axes = fig.subplots(len(rows), n_cols, squeeze=False,
                        gridspec_kw=dict(left=label_px / fig.bbox.width, right=1 - 10 / fig.bbox.width,
                                         top=1 - top, bottom=4 / fig.bbox.height, wspace=0.06, hspace=0.08))
    for r, (label, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(np.clip(images[c], 0, 1), cmap="gray" if images.ndim == 3 else None, vmin=0, vmax=1,
                          interpolation="nearest")
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=FONT, labelpad=8)
    return _pixels(fig)
