"""Layouts of the demo street scenes: label maps of a simple street.

Both demo domains share this layout distribution and the same seven
Cityscapes trainIds; they differ only in how :mod:`.street_rendering` paints
them.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, PERSON, CAR = 0, 1, 2, 8, 10, 11, 13
CLASS_IDS: Tuple[int, ...] = (ROAD, SIDEWALK, BUILDING, VEGETATION, SKY,
                              PERSON, CAR)


@dataclass
class SceneObject:
    """One drawn object (building, bush, tree, car or person).

    Attributes:
        cls: Cityscapes trainId of the object.
        bbox: ``(x0, y0, x1, y1)`` of its drawn pixels (end-exclusive),
            before later objects occluded it.
        window: ``(N, 2)`` polygon of a car's windows, else ``None``.
    """

    cls: int
    bbox: Tuple[int, int, int, int]
    window: Optional[np.ndarray] = None


@dataclass
class SceneLayout:
    """A sampled street scene.

    Attributes:
        label: ``(H, W)`` uint8 map holding only :data:`CLASS_IDS`.
        instance: ``(H, W)`` int32 map: ``i`` on the visible pixels of
            ``objects[i - 1]``, 0 on road, sidewalk, grass and sky.
        objects: The objects in drawing order (far to near for things).
        horizon: Row of the horizon.
        road: x of the road edges ``(top_left, top_right, bottom_left,
            bottom_right)`` at the horizon and at the bottom row.
    """

    label: np.ndarray
    instance: np.ndarray
    objects: List[SceneObject]
    horizon: int
    road: Tuple[float, float, float, float]


class _Canvas:
    """Label and instance maps being drawn (never anti-aliased)."""

    def __init__(self, height: int, width: int) -> None:
        self.label = np.full((height, width), SKY, np.uint8)
        self.instance = np.zeros((height, width), np.int32)
        self.objects: List[SceneObject] = []

    def draw(self, cls: int, polys: Sequence[np.ndarray] = (),
             ellipses: Sequence[Tuple[float, float, float, float]] = (),
             thing: bool = True, window: Optional[np.ndarray] = None) -> None:
        """Paint polygons and ``(cx, cy, ax, ay)`` ellipses with ``cls``.

        Args:
            cls: Class id to paint.
            polys: Float ``(N, 2)`` polygons.
            ellipses: Centres and half axes of filled ellipses.
            thing: Whether the shapes form a new object; otherwise the
                pixels become background (instance 0).
            window: Stored with the object (cars).
        """
        mask = np.zeros(self.label.shape, np.uint8)
        for poly in polys:  # one by one: fillPoly drops overlaps of several
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        for cx, cy, ax, ay in ellipses:
            cv2.ellipse(mask, (int(round(cx)), int(round(cy))),
                        (max(1, int(round(ax))), max(1, int(round(ay)))),
                        0, 0, 360, 1, -1)
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0:
            return
        box = (slice(y, y + h), slice(x, x + w))
        sel = mask[box].view(bool)
        self.label[box][sel] = cls
        if thing:
            self.objects.append(SceneObject(cls, (x, y, x + w, y + h), window))
        self.instance[box][sel] = len(self.objects) if thing else 0


@dataclass
class _Street:
    """Perspective ground: depth ``t`` runs from 0 (horizon) to 1 (bottom)."""

    height: int
    horizon: int
    vanish_x: float
    half_width: float  # of the road at the horizon
    bottom: Tuple[float, float]  # road edges at the bottom row
    walk_top: Tuple[float, float]  # sidewalk widths at the horizon
    walk_bottom: Tuple[float, float]  # and at the bottom row

    def y(self, t: float) -> float:
        """Image row at depth ``t``."""
        return self.horizon + t * (self.height - self.horizon)

    def edges(self, t: float) -> Tuple[float, float, float, float]:
        """x of the outer-left, road-left, road-right, outer-right edges."""
        left = self.vanish_x - self.half_width
        right = self.vanish_x + self.half_width
        left += t * (self.bottom[0] - left)
        right += t * (self.bottom[1] - right)
        walk = [a + t * (b - a) for a, b in zip(self.walk_top,
                                                self.walk_bottom)]
        return left - walk[0], left, right, right + walk[1]

    def strip(self, a: int, b: int) -> np.ndarray:
        """Ground polygon between edges ``a`` and ``b`` (see :meth:`edges`)."""
        top, bot = self.edges(0.0), self.edges(1.1)
        y0, y1 = self.y(0.0), self.y(1.1)
        return np.array([[top[a], y0], [top[b], y0], [bot[b], y1],
                         [bot[a], y1]])


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def check_size(size: Sequence[int]) -> Tuple[int, int]:
    h, w = int(size[0]), int(size[1])
    if h < 16 or w < 16:
        raise ValueError(f'size must be at least 16x16, got {h}x{w}')
    return h, w


def _draw_buildings(cv: _Canvas, rng: np.random.Generator, horizon: int,
                    vanish_x: float) -> None:
    """Rectangles along the horizon, taller away from the vanishing point."""
    h, w = cv.label.shape
    x = -w * rng.uniform(0.0, 0.08)
    while x < w:
        bw = w * rng.uniform(0.06, 0.2)
        if rng.random() < 0.12:  # a gap showing the sky
            x += 0.6 * bw
            continue
        dist = abs(x + bw / 2 - vanish_x) / w
        top = horizon - h * (rng.uniform(0.06, 0.16) +
                             dist * rng.uniform(0.4, 0.9))
        cv.draw(BUILDING, [_rect(x, top, x + bw, horizon + 1)])
        x += bw * rng.uniform(0.85, 1.0)
    for _ in range(rng.integers(0, 4)):  # bushes in front of them
        cv.draw(VEGETATION, ellipses=[(rng.uniform(0, w), horizon,
                                       w * rng.uniform(0.03, 0.1),
                                       h * rng.uniform(0.03, 0.09))])


def _draw_thing(cv: _Canvas, street: _Street, kind: str, t: float,
                rng: np.random.Generator) -> None:
    """Draw a tree or a person on a sidewalk, or a car on the road."""
    h, w = cv.label.shape
    out_l, road_l, road_r, out_r = street.edges(t)
    yb, left = street.y(t), rng.random() < 0.5
    if kind == 'tree':
        x = out_l + 0.2 * (road_l - out_l) if left else \
            out_r - 0.2 * (out_r - road_r)
        th = h * (0.1 + 0.7 * t) * rng.uniform(0.8, 1.2)
        tw = max(0.6, 0.04 * th)
        cv.draw(VEGETATION, [_rect(x - tw, yb - 0.6 * th, x + tw, yb)],
                [(x, yb - 0.72 * th, th * rng.uniform(0.2, 0.32),
                  th * rng.uniform(0.22, 0.3))])
    elif kind == 'car':
        cw = (road_r - road_l) * rng.uniform(0.2, 0.32)
        x = rng.uniform(road_l + cw / 2, road_r - cw / 2)
        bh, ch = cw * rng.uniform(0.3, 0.38), cw * rng.uniform(0.22, 0.3)
        c, xl, xr = 0.3 * bh, x - cw / 2, x + cw / 2
        body = np.array([[xl, yb - c], [xl + c, yb], [xr - c, yb],
                         [xr, yb - c], [xr, yb - bh + c], [xr - c, yb - bh],
                         [xl + c, yb - bh], [xl, yb - bh + c]])
        cx = x + cw * rng.uniform(-0.08, 0.08)  # cabin centre and half base
        cb = cw * rng.uniform(0.35, 0.42)
        y0, y1 = yb - bh - ch, yb - bh + 1
        cabin = np.array([[cx - cb, y1], [cx + cb, y1], [cx + 0.75 * cb, y0],
                          [cx - 0.75 * cb, y0]])
        window = np.array([[cx - 0.85 * cb, y1 - 0.1 * ch],
                           [cx + 0.85 * cb, y1 - 0.1 * ch],
                           [cx + 0.65 * cb, y0 + 0.2 * ch],
                           [cx - 0.65 * cb, y0 + 0.2 * ch]])
        cv.draw(CAR, [body, cabin], window=window)
    else:
        a, b = (out_l, road_l) if left else (road_r, out_r)
        x = float(np.clip(rng.uniform(a, b), 1, w - 2))
        ph = max(4.0, h * (0.07 + 0.4 * t) * rng.uniform(0.85, 1.15))
        pw, r = max(1.5, ph * rng.uniform(0.22, 0.3)), max(1.0, 0.09 * ph)
        stride = ph * rng.uniform(0.0, 0.08)
        torso = _rect(x - pw / 2, yb - ph + 1.6 * r, x + pw / 2,
                      yb - 0.45 * ph)
        legs = [np.array([[x + d * pw / 2, yb - 0.5 * ph], [x, yb - 0.5 * ph],
                          [x + d * stride, yb],
                          [x + d * (stride + 0.4 * pw), yb]]) for d in (-1, 1)]
        cv.draw(PERSON, [torso] + legs, [(x, yb - ph + r, r, r)])


def sample_layout(rng: np.random.Generator,
                  size: Sequence[int] = (128, 256)) -> SceneLayout:
    """Draw a random street scene in perspective.

    Sky on top; buildings along the horizon (taller towards the image sides)
    and bushes; below the horizon grass, a road trapezoid with a sidewalk on
    each side; then 1-4 trees, cars and persons each, from far to near.

    Args:
        rng: Random generator; the layout depends on nothing else.
        size: ``(H, W)`` of the maps, at least 16x16.

    Returns:
        The layout; every pixel of ``label`` holds one of :data:`CLASS_IDS`.
    """
    h, w = check_size(size)
    cv = _Canvas(h, w)
    horizon = int(round(h * rng.uniform(0.36, 0.5)))
    vanish_x = w * rng.uniform(0.35, 0.65)
    _draw_buildings(cv, rng, horizon, vanish_x)
    half_width = w * rng.uniform(0.01, 0.03)
    street = _Street(
        h, horizon, vanish_x, half_width,
        (w * rng.uniform(-0.35, 0.15), w * rng.uniform(0.85, 1.35)),
        tuple(half_width * rng.uniform(0.6, 1.5, 2)),
        tuple(w * rng.uniform(0.12, 0.35, 2)))
    cv.draw(VEGETATION, [_rect(-1, horizon, w + 1, h + 1)], thing=False)
    cv.draw(SIDEWALK, [street.strip(0, 1), street.strip(2, 3)], thing=False)
    cv.draw(ROAD, [street.strip(1, 2)], thing=False)
    things = [(rng.uniform(lo, hi), kind) for kind, lo, hi in (
        ('tree', 0.05, 0.85), ('car', 0.08, 0.95), ('person', 0.1, 0.95))
        for _ in range(rng.integers(1, 5))]
    for t, kind in sorted(things):
        _draw_thing(cv, street, kind, t, rng)
    (_, top_l, top_r, _), (_, bot_l, bot_r, _) = (street.edges(0.0),
                                                  street.edges(1.0))
    return SceneLayout(cv.label, cv.instance, cv.objects, horizon,
                       (top_l, top_r, bot_l, bot_r))
