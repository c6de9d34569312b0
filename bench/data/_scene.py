"""Procedural aerial scenes: ground, roads, vegetation, roofs with cast shadows, camera noise.

Drawn so that colour alone does not separate roofs from background (some roofs take the
road's or the ground's colour), which keeps a small U-Net well below a perfect Dice.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in [0,1]: a random (cells+1)² grid, bilinearly upsampled with smoothstep."""
    grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
    t = np.arange(size, dtype=np.float32) * (cells / size)
    i0 = t.astype(np.int64)
    f = t - i0
    f = f * f * (3.0 - 2.0 * f)
    rows = grid[i0] * (1.0 - f)[:, None] + grid[i0 + 1] * f[:, None]
    return rows[:, i0] * (1.0 - f)[None, :] + rows[:, i0 + 1] * f[None, :]


def fractal_noise(rng: np.random.Generator, size: int, octaves: tuple[int, ...] = (3, 6, 12, 24)) -> np.ndarray:
    """Sum of value-noise octaves (halving weight per octave), rescaled to [0,1]."""
    total = np.zeros((size, size), np.float32)
    weight = 1.0
    for cells in octaves:
        total += weight * value_noise(rng, size, max(1, min(cells, size)))
        weight *= 0.5
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / max(hi - lo, 1e-6)


def _blur(img: np.ndarray) -> np.ndarray:
    """Separable [1,2,1]/4 blur with edge replication (HxWxC)."""
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
    p = (p[:-2] + 2.0 * p[1:-1] + p[2:]) * 0.25
    return (p[:, :-2] + 2.0 * p[:, 1:-1] + p[:, 2:]) * 0.25


def _roof_colour(rng: np.random.Generator, road: np.ndarray, ground: np.ndarray) -> np.ndarray:
    kind = rng.choice(6, p=[0.28, 0.2, 0.12, 0.12, 0.14, 0.14])
    if kind == 0:  # grey concrete / metal
        return np.full(3, rng.uniform(0.35, 0.75), np.float32) * rng.uniform(0.95, 1.05, 3)
    if kind == 1:  # terracotta tiles
        return np.array([rng.uniform(0.5, 0.7), rng.uniform(0.22, 0.36), rng.uniform(0.15, 0.26)], np.float32)
    if kind == 2:  # dark tar / slate
        return np.full(3, rng.uniform(0.1, 0.24), np.float32) * rng.uniform(0.9, 1.1, 3)
    if kind == 3:  # bright membrane
        return np.full(3, rng.uniform(0.78, 0.95), np.float32) * rng.uniform(0.97, 1.03, 3)
    if kind == 4:  # looks like the road
        return road * rng.uniform(0.92, 1.08, 3)
    return ground * rng.uniform(0.9, 1.1, 3)  # looks like the ground


def _footprint(rng: np.random.Generator, size: int, grid_angle: float) -> tuple[str, list[tuple[float, float]]]:
    """A roof outline: ("poly", vertices) or ("ellipse", [corner0, corner1])."""
    cx, cy = rng.uniform(-0.05, 1.05, 2) * size
    long_side = rng.uniform(0.08, 0.3) * size
    short_side = long_side * rng.uniform(0.4, 1.0)
    kind = rng.choice(3, p=[0.6, 0.28, 0.12])
    if kind == 2:
        rx, ry = long_side / 2, (short_side / 2 if rng.random() < 0.5 else long_side / 2)
        return "ellipse", [(cx - rx, cy - ry), (cx + rx, cy + ry)]
    if rng.random() < 0.75:
        angle = grid_angle + rng.integers(4) * math.pi / 2 + rng.normal(0.0, 0.05)
    else:
        angle = rng.uniform(0.0, math.pi)
    a, b = long_side / 2, short_side / 2
    if kind == 0:
        local = [(-a, -b), (a, -b), (a, b), (-a, b)]
    else:  # L-shape: a full bar plus a wing, cut out of the rectangle's corner
        wing_w, wing_h = rng.uniform(0.3, 0.55) * 2 * a, rng.uniform(0.5, 1.5) * 2 * b
        local = [(-a, -b), (a, -b), (a, b), (-a + wing_w, b), (-a + wing_w, b + wing_h), (-a, b + wing_h)]
    c, s = math.cos(angle), math.sin(angle)
    return "poly", [(cx + x * c - y * s, cy + x * s + y * c) for x, y in local]


def _draw(
    canvas: Image.Image, shape: str, pts: list[tuple[float, float]], fill: int, dx: float = 0, dy: float = 0
) -> None:
    moved = [(x + dx, y + dy) for x, y in pts]
    draw = ImageDraw.Draw(canvas)
    if shape == "ellipse":
        draw.ellipse(moved, fill=fill)
    else:
        draw.polygon(moved, fill=fill)


def render_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One RGB scene (uint8 HxWx3) and its roof mask (uint8 HxW, 1 = building)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    grounds = np.array([[0.36, 0.42, 0.26], [0.55, 0.5, 0.38], [0.52, 0.5, 0.47], [0.45, 0.37, 0.29]], np.float32)
    ground_col = grounds[rng.integers(len(grounds))] * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    tone = fractal_noise(rng, size)
    hue = fractal_noise(rng, size, (4, 8))[..., None] - 0.5
    img = ground_col * (0.7 + 0.6 * tone)[..., None] + 0.08 * hue * np.array([0.6, 1.0, -0.4], np.float32)

    # Vegetation: thresholded low-frequency noise, green and grainy.
    veg_field = fractal_noise(rng, size, (2, 4, 8))
    veg = veg_field > np.quantile(veg_field, 1.0 - rng.uniform(0.04, 0.25))
    veg_col = np.array([rng.uniform(0.12, 0.28), rng.uniform(0.28, 0.45), rng.uniform(0.1, 0.2)], np.float32)
    grain = 0.6 + 0.8 * fractal_noise(rng, size, (16, 32, 64))
    img[veg] = (veg_col * grain[..., None])[veg]

    # Roads: bands on the scene's street grid, with kerbs and a dashed centre line.
    grid_angle = rng.uniform(0.0, math.pi / 2)
    road = np.zeros((size, size), bool)
    marks = np.zeros((size, size), bool)
    road_col = np.full(3, rng.uniform(0.3, 0.55), np.float32) * rng.uniform(0.96, 1.04, 3).astype(np.float32)
    for _ in range(rng.choice(4, p=[0.15, 0.4, 0.3, 0.15])):
        theta = grid_angle + rng.integers(2) * math.pi / 2 + rng.normal(0.0, 0.04)
        px, py = rng.uniform(0.1, 0.9, 2) * size
        width = rng.uniform(0.04, 0.1) * size
        dist = np.abs((xx - px) * -math.sin(theta) + (yy - py) * math.cos(theta))
        along = (xx - px) * math.cos(theta) + (yy - py) * math.sin(theta)
        band = dist < width / 2
        kerb = (dist >= width / 2) & (dist < width / 2 + max(1.0, size / 128))
        img[kerb] = np.minimum(img[kerb] * 1.35, 1.0)
        road |= band
        if width > 0.06 * size:
            marks |= band & (dist < 0.6) & (np.mod(along, 10.0) < 5.0)
    road_tex = (0.85 + 0.3 * fractal_noise(rng, size, (8, 32)))[..., None]
    img[road] = (road_col * road_tex)[road]
    img[marks] = 0.9

    # Paved lots and bare patches: roof-like rectangles without height, i.e. hard negatives.
    lots = Image.new("L", (size, size), 0)
    for _ in range(rng.choice(4, p=[0.3, 0.35, 0.2, 0.15])):
        _draw(lots, *_footprint(rng, size, grid_angle), 1)
    lot = np.asarray(lots, dtype=bool) & ~road
    lot_col = road_col * rng.uniform(0.85, 1.2) if rng.random() < 0.6 else ground_col * rng.uniform(1.1, 1.3)
    img[lot] = (lot_col * road_tex)[lot]

    # Buildings: draw until the roof share reaches a target; each keeps its own colour and ridge.
    target = rng.uniform(0.15, 0.33)
    labels = np.zeros((size, size), np.int32)
    shadow = Image.new("L", (size, size), 0)
    sun = rng.uniform(0.0, 2 * math.pi)
    colours, ridges = [np.zeros(3, np.float32)], [(0.0, 0.0, 1.0, 0.0, 0.0)]
    for _ in range(80):
        if (labels > 0).mean() >= target or len(colours) >= 250:
            break
        shape, pts = _footprint(rng, size, grid_angle)
        scratch = Image.new("L", (size, size), 0)
        _draw(scratch, shape, pts, 1)
        fp = np.asarray(scratch, dtype=bool)
        area = fp.sum()
        if area < 6 or (fp & road).sum() > 0.1 * area or (fp & (labels > 0)).sum() > 0.25 * area:
            continue
        k = len(colours)
        labels[fp] = k
        colours.append(_roof_colour(rng, road_col, ground_col))
        (x0, y0), (x1, y1) = pts[0], pts[1]
        norm = math.hypot(x1 - x0, y1 - y0) or 1.0
        pitch = rng.uniform(0.0, 0.18) * (rng.random() < 0.7) * (shape == "poly")  # flat roofs: 0
        centre = (float(np.mean([p[0] for p in pts])), float(np.mean([p[1] for p in pts])))
        ridges.append((*centre, (x1 - x0) / norm, (y1 - y0) / norm, pitch))
        height = rng.uniform(0.015, 0.05) * size
        for t in (0.34, 0.67, 1.0):
            _draw(shadow, shape, pts, 255, t * height * math.cos(sun), t * height * math.sin(sun))
    roof = labels > 0
    cast = (np.asarray(shadow) > 0) & ~roof
    img[cast] *= rng.uniform(0.4, 0.62) * np.array([0.95, 0.98, 1.08], np.float32)

    params = np.array(ridges, np.float32)
    lab = labels[roof]
    cx, cy, ux, uy, s = (params[lab, j] for j in range(5))
    side = np.sign((xx[roof] - cx) * -uy + (yy[roof] - cy) * ux)
    roof_tex = 0.9 + 0.2 * fractal_noise(rng, size, (16, 48))
    img[roof] = np.array(colours, np.float32)[lab] * ((1.0 + s * side) * roof_tex[roof])[:, None]
    padded = np.pad(labels, 1, mode="edge")
    edge = roof & ((padded[:-2, 1:-1] != labels) | (padded[2:, 1:-1] != labels)
                   | (padded[1:-1, :-2] != labels) | (padded[1:-1, 2:] != labels))
    img[edge] *= rng.uniform(0.75, 1.2)

    # A few tree crowns overhang roofs: hidden roof pixels are not labelled as building.
    crowns = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(crowns)
    for _ in range(rng.integers(0, 6)):
        r = rng.uniform(0.02, 0.05) * size
        x, y = rng.uniform(0, size, 2)
        draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=1)
    crown = np.asarray(crowns, dtype=bool)
    img[crown] = (veg_col * grain[..., None])[crown]
    mask = roof & ~crown

    # Camera: contrast/brightness jitter, slight blur, sensor noise.
    img = (img - 0.5) * rng.uniform(0.85, 1.15) + 0.5 + rng.uniform(-0.06, 0.06)
    img = img + (_blur(img) - img) * rng.uniform(0.3, 1.0)
    img = img + rng.normal(0.0, rng.uniform(0.01, 0.035), img.shape).astype(np.float32)
    out = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out, mask.astype(np.uint8)
