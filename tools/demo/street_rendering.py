"""Rendering of demo street layouts in the two demo domains.

:func:`render_source` paints flat, saturated "game" colours with crisp
edges; :func:`render_target` uses other colours, per-class textures, varying
lighting and tint, lower saturation, blur and sensor noise.
"""
from typing import Dict, Tuple

import cv2
import numpy as np

from .street_layout import (BUILDING, CAR, PERSON, ROAD, SIDEWALK, SKY,
                            VEGETATION, SceneLayout)


_SOURCE_COLOURS = {ROAD: (80, 80, 92), SIDEWALK: (208, 176, 132),
                   BUILDING: (196, 112, 74), VEGETATION: (62, 182, 64),
                   SKY: (110, 186, 250), PERSON: (228, 62, 70),
                   CAR: (44, 96, 228)}
_TARGET_COLOURS = {ROAD: (92, 92, 100), SIDEWALK: (184, 160, 126),
                   BUILDING: (168, 112, 84), VEGETATION: (56, 142, 50),
                   SKY: (136, 182, 232), PERSON: (170, 60, 64),
                   CAR: (50, 90, 190)}
# per-object choices of the target (cars, facades, clothes)
_TARGET_PALETTES = {
    CAR: ((50, 90, 190), (70, 110, 200), (150, 152, 156), (40, 40, 48),
          (160, 40, 40), (40, 70, 150)),
    BUILDING: ((168, 112, 84), (150, 86, 62), (178, 160, 140),
               (130, 120, 120), (180, 130, 90)),
    PERSON: ((40, 42, 56), (70, 60, 50), (150, 40, 44), (150, 150, 146),
             (56, 80, 60), (120, 50, 90)),
}


def _lane_mask(layout: SceneLayout) -> np.ndarray:
    """Dashed centre line of the road, spaced and sized in perspective."""
    h, w = layout.label.shape
    tl, tr, bl, br = layout.road
    mask = np.zeros((h, w), np.uint8)
    for z in np.arange(1.0, 14.0, 1.3):  # inverse depth of the dash ends
        quad = []
        for t, side in ((1 / z, -1), (1 / z, 1), (1 / (z + 0.6), 1),
                        (1 / (z + 0.6), -1)):
            xc = (tl + tr) / 2 + t * ((bl + br - tl - tr) / 2)
            quad.append([xc + side * max(0.5, 0.012 * (br - bl) * t),
                         layout.horizon + t * (h - layout.horizon)])
        cv2.fillPoly(mask, [np.round(np.array(quad)).astype(np.int32)], 1)
    return (mask > 0) & (layout.label == ROAD)


def _facade(bbox: Tuple[int, int, int, int], height: int,
            rng: np.random.Generator,
            bricks: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Window-grid and brick-mortar masks of a building, in its bbox."""
    x0, y0, x1, y1 = bbox
    yy, xx = np.arange(y1 - y0)[:, None], np.arange(x1 - x0)[None]
    cx = max(3, int(round(height * rng.uniform(0.035, 0.06))))
    cy = cx + int(rng.integers(0, 3))
    windows = ((yy % cy >= cy // 2) & (xx % cx >= max(1, cx // 3)) &
               (yy < y1 - y0 - cy))
    mortar = ((yy % 2 == 0) | ((xx + 3 * (yy // 2 % 2)) % 6 == 0)) & bricks
    return windows, mortar


def _poly_mask(poly: np.ndarray,
               bbox: Tuple[int, int, int, int]) -> np.ndarray:
    """Boolean mask of a filled polygon, in the coordinates of ``bbox``."""
    x0, y0, x1, y1 = bbox
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
    return mask > 0


def _smooth_noise(rng: np.random.Generator, shape: Tuple[int, int],
                  cell: float) -> np.ndarray:
    """Roughly unit-variance noise with blobs of about ``cell`` pixels."""
    h, w = shape
    small = rng.standard_normal((int(h / cell) + 2, int(w / cell) + 2))
    return cv2.resize(small.astype(np.float32), (w, h),
                      interpolation=cv2.INTER_CUBIC)


def _colour_tables(layout: SceneLayout, rng: np.random.Generator,
                   base: Dict[int, Tuple[int, int, int]], image_sigma: float,
                   object_sigma: Dict[int, float],
                   palettes: Dict[int, tuple]) -> Tuple[np.ndarray, ...]:
    """Jittered per-class colours and per-object colours, both float32."""
    lut = np.zeros((256, 3), np.float32)
    for cls, colour in base.items():
        lut[cls] = np.asarray(colour) + rng.normal(0, image_sigma, 3)
    objs = np.zeros((len(layout.objects) + 1, 3), np.float32)
    for i, obj in enumerate(layout.objects, 1):
        pal = palettes.get(obj.cls)
        colour = lut[obj.cls] if pal is None else pal[rng.integers(len(pal))]
        objs[i] = colour + rng.normal(0, object_sigma.get(obj.cls, 8), 3)
    index = np.where(layout.instance > 0, layout.instance + 256, layout.label)
    img = np.take(np.concatenate([lut, objs]), index, axis=0)
    return img, objs


def render_source(layout: SceneLayout,
                  rng: np.random.Generator) -> np.ndarray:
    """Render the "game" domain: flat saturated colours, crisp edges.

    A fixed colour per class with small per-image and per-object jitter,
    flat windows on most buildings and on cars, white lane dashes.

    Args:
        layout: Scene from :func:`sample_layout`.
        rng: Random generator for the jitter.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    img, objs = _colour_tables(layout, rng, _SOURCE_COLOURS, 6,
                               {CAR: 20, PERSON: 20, BUILDING: 20}, {})
    img[_lane_mask(layout)] = (235, 235, 220)
    for i, obj in enumerate(layout.objects, 1):
        x0, y0, x1, y1 = obj.bbox
        box = (slice(y0, y1), slice(x0, x1))
        mine = layout.instance[box] == i
        if obj.cls == BUILDING and rng.random() < 0.7:
            windows = _facade(obj.bbox, img.shape[0], rng, False)[0]
            img[box][windows & mine] = objs[i] * 0.45 + (20, 30, 60)
        elif obj.cls == CAR:
            img[box][_poly_mask(obj.window, obj.bbox) & mine] = (150, 215, 245)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render_target(layout: SceneLayout,
                  rng: np.random.Generator) -> np.ndarray:
    """Render the "real" domain: textured, unevenly lit, tinted, noisy.

    Other (less saturated, per-object varied) colours; asphalt noise, paving
    lines, bricks and window grids, leafy noise and clouds; dark car windows
    and wheel shadows, clothes and faces; a lighting gradient, a random
    global tint and exposure, then Gaussian blur and additive noise.

    Args:
        layout: Scene from :func:`sample_layout`.
        rng: Random generator for colours, textures, lighting and noise.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    label, inst = layout.label, layout.instance
    h, w = label.shape
    img, _ = _colour_tables(layout, rng, _TARGET_COLOURS, 8, {},
                            _TARGET_PALETTES)
    fine = rng.standard_normal((h, w), dtype=np.float32)
    tex = np.select(
        [label == c for c in (ROAD, SIDEWALK, BUILDING, VEGETATION, SKY)],
        [7 * fine + 10 * _smooth_noise(rng, (h, w), 6), 5 * fine,
         4 * fine + 8 * _smooth_noise(rng, (h, w), 8),
         10 * fine + 22 * _smooth_noise(rng, (h, w), 3),
         20 * np.maximum(_smooth_noise(rng, (h, w), 14), 0)], 3 * fine)
    yy, xx = np.arange(h)[:, None], np.arange(w)[None]
    tile = max(3, int(round(h * rng.uniform(0.03, 0.05))))
    paving = (yy % tile == 0) | ((xx + yy // 2) % (2 * tile) == 0)
    tex[(label == SIDEWALK) & paving] -= 28
    haze = (30 / max(1, layout.horizon)) * yy.astype(np.float32)
    tex += (label == SKY) * haze  # brighter towards the horizon
    img[_lane_mask(layout)] = (196, 192, 176)
    for i, obj in enumerate(layout.objects, 1):
        x0, y0, x1, y1 = obj.bbox
        box = (slice(y0, y1), slice(x0, x1))
        mine = inst[box] == i
        rows = np.arange(y1 - y0)[:, None]
        if obj.cls == BUILDING:
            windows, mortar = _facade(obj.bbox, h, rng, rng.random() < 0.5)
            windows &= mine & (rng.random() < 0.8)
            img[box][windows] = (46, 52, 60) + rng.normal(0, 10, 3)
            tex[box][mortar & mine & ~windows] -= 26
        elif obj.cls == CAR:
            img[box][_poly_mask(obj.window, obj.bbox) & mine] = (38, 44, 52)
            tex[box][mine & (rows >= (y1 - y0) - max(1, (y1 - y0) // 5))] -= 45
        elif obj.cls == PERSON:
            pal = _TARGET_PALETTES[PERSON]
            legs = mine & (rows >= 0.55 * (y1 - y0))
            img[box][legs] = np.asarray(pal[rng.integers(len(pal))]) * 0.8
            img[box][mine & (rows < 0.17 * (y1 - y0))] = (170, 130, 110)
    img += tex[..., None]
    a, b = rng.uniform(-0.35, 0.35, 2)
    shade = 1 + a * (xx / w - 0.5) + b * (yy / h - 0.5)  # lighting gradient
    img *= shade.astype(np.float32)[..., None]
    gains = rng.uniform(0.85, 1.15, 3)
    img *= (gains / gains.mean() * rng.uniform(0.8, 1.15)).astype(np.float32)
    saturation = rng.uniform(0.6, 0.9)  # washed-out colours
    grey = (img[..., 0] + img[..., 1] + img[..., 2]) * ((1 - saturation) / 3)
    img = img * saturation + grey[..., None]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.2))
    img += rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(3, 7)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)
