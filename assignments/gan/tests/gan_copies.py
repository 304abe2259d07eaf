"""Whether generated images are copies of real ones, however a copy was warped (trusted side only).

A lookup can return public images of the class moved, rotated, scaled, mirrored, bent, with their
contrast changed or noise added: at 8x8 pixels a 15-degree rotation moves a digit as far from its
original as two different threes lie apart, so a plain nearest-neighbour distance (even one that
tries shifts of a pixel) calls such copies new (issue #20: rotated and scaled copies scored 30/30).
So every comparison here *registers* first: each real image is fitted to the query by the
geometric and photometric change that brings it closest, within the bounds a copy could hide in:

1. a coarse search over a grid of affine maps (`warp_grid`: rotations, scales, shifts, mirrored or
   not) keeps each query's `CANDIDATES` nearest real images, each with its best grid map;
2. a fine search refines each candidate's affine map by gradient descent, for `FINE_STEPS` steps.

Affine maps only, on purpose: a smooth bend as well (a 3x3 grid of control points, up to a pixel)
brings any real three so close to another that the held-out images' distances shrink more than a
copy's: on course key bytes(range(32)) rotated, contrast-changed copies with noise sd 0.1 rose from
0.66 to 0.85 (passing), noisy copies (sd 0.2) from 0.83 to 1.09, and bent copies were not caught
either way (0.6 px: 1.47 affine-only, 1.48 with bends).

Distances are taken between images in `comparison_space` (8x8 digits and MNIST at their own size,
CIFAR-10 pooled to 16x16), blurred (noise added to a copy averages out, the digit does not) and standardised to zero mean and
a fixed norm, so brightness and contrast are matched too. A query's distance is the smaller of its
registered distance and its distance to the nearest cross-fade of two real images (shift-registered,
as before: a blend is new pixels, but not a new image).

The held-out real images calibrate the scale exactly as before: `memorisation_ratio` is the median
distance of the samples over that of held-out images (each leaving out its own original), so the
same registration that brings a warped copy to its source brings real images closer to each other
too, and only what is closer than real data is to itself counts as copying.

Nothing here imports or runs student code.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gan_metrics import as_images

# The bounds of the search: wider than the warps a copy can take before it stops looking like the class
# (beyond ~15 degrees or ~10 % a digit's Frechet distance leaves full marks; measured in tests/test_gan_attacks.py).
MAX_ROTATION_DEG = 20.0
ROTATION_STEP_DEG = 10.0
SCALES = (0.88, 1.0, 1.12)
MAX_SHIFT_PX = 1.0
CANDIDATES = 6             # real images refined per query
FINE_STEPS = 40
BLUR_SIGMA_PX = 0.7        # Gaussian blur before comparing: noise of sd 0.2 mostly averages out
BLEND_NEIGHBOURS = 32      # cross-fades of two are sought among this many nearest real images


def comparison_space(images) -> torch.Tensor:
    """Images average-pooled by side // 16 (8x8 digits and MNIST's 28x28 as they are, CIFAR-10 to 16x16), as
    (N, C, H, W) float32. MNIST is not pooled on purpose: a copy warped at 28 px and then pooled is no longer
    the pooled original warped, and the registration loses it. Measured on course key bytes(range(32)), the
    threes of the mnist mode: pooled to 14 px, 300 real threes rotated by up to 15 degrees and scaled by up to
    10 % scored 0.54 (0.07 at 28 px) and with contrast and noise 0.50 (0.28), for a 4x cheaper check (33 s
    instead of 140 s per 256 queries on one core); 500 samples of the reference 1.24 (1.27 at 28 px)."""
    x = as_images(images)
    factor = max(1, x.shape[-1] // 16)
    return F.avg_pool2d(x, factor) if factor > 1 else x


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.arange(-2, 3, dtype=x.dtype)
    k = torch.exp(-k ** 2 / (2 * BLUR_SIGMA_PX ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)


def signature(x: torch.Tensor) -> torch.Tensor:
    """(N, D): blurred, zero-mean, norm sqrt(D) (so distances keep the scale of pixels): what is compared."""
    flat = _blur(x).flatten(1)
    flat = flat - flat.mean(1, keepdim=True)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-6) * flat.shape[1] ** 0.5


def warp_grid(*, mirrored: bool = True) -> torch.Tensor:
    """(T, 2, 3) affine maps (affine_grid's convention, image side = 2) of the coarse search; identity first."""
    rotations = np.arange(-MAX_ROTATION_DEG, MAX_ROTATION_DEG + 1e-9, ROTATION_STEP_DEG)
    shifts = np.arange(-MAX_SHIFT_PX, MAX_SHIFT_PX + 1e-9, 1.0)
    maps = []
    for flip in ((1.0, -1.0) if mirrored else (1.0,)):
        for r in sorted(rotations, key=abs):
            for s in sorted(SCALES, key=lambda v: abs(v - 1)):
                for dy in sorted(shifts, key=abs):
                    for dx in sorted(shifts, key=abs):
                        a = np.deg2rad(r)
                        maps.append([[flip * np.cos(a) / s, -np.sin(a) / s, dx], [flip * np.sin(a) / s, np.cos(a) / s, dy]])
    return torch.tensor(maps, dtype=torch.float32)  # shifts in pixels: see _in_units


def _in_units(maps: torch.Tensor, size: int) -> torch.Tensor:
    """Shifts given in pixels turned into affine_grid units (2 per image side)."""
    out = maps.clone()
    out[:, :, 2] *= 2.0 / size
    return out


def _warp(x: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(maps, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _coarse(queries: torch.Tensor, reals: torch.Tensor, maps: torch.Tensor, exclude) -> tuple:
    """Each query's CANDIDATES nearest real images over the grid of maps: (indices, map indices), (Q, k)."""
    q = signature(queries)
    q_sq = (q * q).sum(1, keepdim=True)
    best = torch.full((len(q), len(reals)), float("inf"))
    best_map = torch.zeros((len(q), len(reals)), dtype=torch.long)
    for t, m in enumerate(maps):  # one map at a time: memory stays (Q, N) however many reals there are
        r = signature(_warp(reals, m.expand(len(reals), 2, 3)))
        d2 = q_sq + (r * r).sum(1)[None] - 2 * q @ r.T
        closer = d2 < best
        best = torch.where(closer, d2, best)
        best_map[closer] = t
    if exclude is not None:
        best[torch.arange(len(q)), torch.as_tensor(np.asarray(exclude))] = float("inf")
    k = min(CANDIDATES, len(reals))
    near = best.topk(k, dim=1, largest=False).indices
    return near, best_map.gather(1, near)


def _refined(queries: torch.Tensor, reals: torch.Tensor, maps: torch.Tensor, near, near_map) -> torch.Tensor:
    """(Q,): each query's distance to its nearest candidate after refining the candidate's affine map."""
    n_q, k = near.shape
    x = reals[near.reshape(-1)]
    theta = maps[near_map.reshape(-1)].clone().requires_grad_(True)
    target = signature(queries).repeat_interleave(k, 0)
    opt = torch.optim.Adam([theta], lr=0.02)
    with torch.enable_grad():
        for _ in range(FINE_STEPS):
            loss = ((signature(_warp(x, theta)) - target) ** 2).sum(1)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        final = ((signature(_warp(x, theta)) - target) ** 2).sum(1)
    return final.detach().view(n_q, k).min(1).values.clamp_min(0).sqrt()


def _blend_distances(queries: torch.Tensor, reals: torch.Tensor, exclude) -> torch.Tensor:
    """(Q,): distance to the nearest real image or cross-fade a*x + (1 - a)*y of two, among each query's
    BLEND_NEIGHBOURS nearest real images, each shifted by up to a pixel."""
    size = reals.shape[-1]
    shifts = [torch.tensor([[[1.0, 0.0, dx], [0.0, 1.0, dy]]]) for dy in (-1.0, 0.0, 1.0) for dx in (-1.0, 0.0, 1.0)]
    variants = torch.stack([signature(_warp(reals, _in_units(s, size).expand(len(reals), 2, 3))) for s in shifts])
    q = signature(queries)
    v_count, n = variants.shape[:2]
    r = variants.reshape(v_count * n, -1)
    d2 = ((q * q).sum(1, keepdim=True) + (r * r).sum(1)[None] - 2 * q @ r.T).view(len(q), v_count, n)
    best_d2, best_v = d2.min(1)
    if exclude is not None:
        best_d2[torch.arange(len(q)), torch.as_tensor(np.asarray(exclude))] = float("inf")
    k = min(BLEND_NEIGHBOURS, n)
    near_d2, near = best_d2.topk(k, dim=1, largest=False)
    ia, ib = torch.triu_indices(k, k, offset=1)
    out = []
    for start in range(0, len(q), 64):
        rows = slice(start, start + 64)
        nb = r[best_v[rows].gather(1, near[rows]) * n + near[rows]]     # (B, k, D)
        a, ab = nb[:, ia], nb[:, ib] - nb[:, ia]
        qb = q[rows, None]
        t = (((qb - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-12)).clamp(0, 1)
        seg = ((qb - a - t[..., None] * ab) ** 2).sum(-1).min(1).values
        out.append(torch.minimum(seg, near_d2[rows, 0]))
    return torch.cat(out).clamp_min(0).sqrt()


@torch.no_grad()
def copy_distances(queries, reals, *, exclude=None, mirrored: bool = True) -> np.ndarray:
    """(Q,) float64: each query's distance to the nearest real image, registered (moved, rotated, scaled,
    mirrored, contrast matched), or to the nearest cross-fade of two real images. `exclude`: one index into `reals` per
    query that is left out (a held-out image's own original), or None."""
    q, r = comparison_space(queries), comparison_space(reals)
    if not len(q):
        return np.zeros(0)
    maps = _in_units(warp_grid(mirrored=mirrored), r.shape[-1])
    near, near_map = _coarse(q, r, maps, exclude)
    registered = _refined(q, r, maps, near, near_map)
    return torch.minimum(registered, _blend_distances(q, r, exclude)).double().numpy()


def held_out_distances(real_images, test_images, test_sources, *, flips: bool = True,
                       max_test: int = 256) -> np.ndarray:
    """The scale of `memorisation_ratio`: the copy distances of at most `max_test` held-out images (evenly spread;
    the median is stable long before MNIST's 1,010), each leaving out its own original. They depend on the data
    and the course key only, not on a submission: a grading command computes them once (conftest's `@prepared`)."""
    pick = np.unique(np.linspace(0, len(test_images) - 1, min(len(test_images), max_test)).astype(int))
    return copy_distances(np.asarray(test_images)[pick], real_images, exclude=np.asarray(test_sources)[pick],
                          mirrored=flips)


def memorisation_ratio(samples, real_images, test_images, test_sources, *, flips: bool = True,
                       max_test: int = 256, held_out: np.ndarray | None = None) -> float:
    """median_s(copy distance of sample s) / median_t(copy distance of held-out image t, leaving out t's
    own original): ~1 for samples as new as fresh real data, ~0 for copies, however warped.

    `real_images` are every real image of the class a student could have (the public originals;
    training images are sub-pixel shifts of them, which the registration covers). `flips`: mirrored
    images are searched too (a mirrored copy is a copy, of a digit or of a photograph). `held_out`: the
    held-out images' distances when already computed (`held_out_distances` with the same arguments)."""
    d_samples = copy_distances(samples, real_images, mirrored=flips)
    if held_out is None:
        held_out = held_out_distances(real_images, test_images, test_sources, flips=flips, max_test=max_test)
    return float(np.median(d_samples) / np.median(held_out))
