"""A procedural stand-in for the handout's art_data: 11 synthetic "artists", 451 images.

The real paintings cannot be obtained on these machines, so `--data synthetic-artists` (the default)
renders images whose classes differ the way painters do: palette, brightness and contrast, stroke
direction and length, texture scale, flat versus blended colour, composition (horizon height, a lit
figure, a dark mass on one side) and canvas shape (portrait or landscape, padded to a square).
Each image draws its own variations and is partly blended towards another artist's style, so the
starter SimpleCNN neither solves the task nor fails at it (see bench/tune_synthetic.py).

Colour, orientation and position carry class information on purpose, so the handout's robustness
transforms (brighten, darken, contrast, flip, invert, translate) change what the network sees.
Rendering is numpy-only and deterministic: image i of artist c depends only on (seed, c, i).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from cnnlab.art.data.artist_styles import ARTISTS, ArtistStyle
from cnnlab.art.data.folder import PAD_VALUE  # mid-grey, as the real loader pads

# Bump when the rendering code changes (the parameters and the style table are hashed already): it is
# part of the data hash, so caches of old renders are ignored.
GENERATOR_VERSION = 1
DEFAULT_SEED = 20200429  # the handout's due date
# How far each image is blended towards a random other artist (max weight) and how strongly its own
# parameters are jittered; tuned so the starter SimpleCNN lands in the 55-70% validation band.
DEFAULT_MIX = 0.2
DEFAULT_JITTER = 1.6
DEFAULT_NUISANCE = 0.8  # opacity of the artist-independent shapes (subject matter)


_NUMERIC = [f.name for f in fields(ArtistStyle) if f.name not in ("name", "count")]


def generator_params(
    seed: int = DEFAULT_SEED,
    mix: float = DEFAULT_MIX,
    jitter: float = DEFAULT_JITTER,
    nuisance: float = DEFAULT_NUISANCE,
) -> dict:
    """Everything the rendering depends on except the image size (it goes into the data hash)."""
    return {
        "generator": "synthetic-artists",
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "mix": float(mix),
        "jitter": float(jitter),
        "nuisance": float(nuisance),
        "artists": [asdict(a) for a in ARTISTS],  # the whole style table
    }


def class_names() -> tuple[str, ...]:
    return tuple(a.name for a in ARTISTS)


def render_artists(
    image_size: int = 50,
    *,
    seed: int = DEFAULT_SEED,
    mix: float = DEFAULT_MIX,
    jitter: float = DEFAULT_JITTER,
    nuisance: float = DEFAULT_NUISANCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Render all 451 images: returns (images (N, 3, S, S) float32 in [-0.5, 0.5], labels (N,) int64)."""
    images, labels = [], []
    for c, style in enumerate(ARTISTS):
        for i in range(style.count):
            # An independent stream per image: rendering order and counts elsewhere do not matter.
            rng = np.random.default_rng([seed, c, i])
            images.append(_render_one(style, c, rng, image_size, mix, jitter, nuisance))
            labels.append(c)
    return np.stack(images).astype(np.float32), np.asarray(labels, dtype=np.int64)


# ----------------------------------------------------------------------------- rendering
def _blend_style(style: ArtistStyle, c: int, rng: np.random.Generator, mix: float, jitter: float) -> ArtistStyle:
    """Blend towards a random other artist (weight in [0, mix]) and jitter the result."""
    others = [k for k in range(len(ARTISTS)) if k != c]
    other = ARTISTS[others[rng.integers(len(others))]]
    w = float(rng.uniform(0.0, mix))
    values = {}
    for name in _NUMERIC:
        a, b = getattr(style, name), getattr(other, name)
        if name == "stroke_angle":
            # Orientations live mod 180: blend the doubled-angle unit vectors.
            ta, tb = np.deg2rad(2 * a), np.deg2rad(2 * b)
            v = (1 - w) * np.array([np.cos(ta), np.sin(ta)]) + w * np.array([np.cos(tb), np.sin(tb)])
            values[name] = float(np.rad2deg(np.arctan2(v[1], v[0])) / 2)
        elif isinstance(a, tuple):
            values[name] = tuple(float(x) for x in (1 - w) * np.asarray(a) + w * np.asarray(b))
        else:
            values[name] = (1 - w) * a + w * b
    j = jitter
    colour_shift = rng.normal(0.0, 0.05 * j, 3)  # a shared tint, as from varnish or photography
    for name in ("top", "upper", "lower", "bottom", "accent", "focal"):
        col = np.asarray(values[name]) + colour_shift + rng.normal(0.0, 0.06 * j, 3)
        values[name] = tuple(float(x) for x in np.clip(col, 0.0, 1.0))
    values["log_aspect"] += rng.normal(0.0, 0.12 * j)
    values["horizon"] = float(np.clip(values["horizon"] + rng.normal(0.0, 0.07 * j), 0.2, 0.85))
    values["stroke_angle"] += rng.normal(0.0, values["angle_sd"] * j)
    values["stroke_len"] *= float(np.exp(rng.normal(0.0, 0.25 * j)))
    values["blob_scale"] *= float(np.exp(rng.normal(0.0, 0.25 * j)))
    values["focal_x"] += rng.normal(0.0, 0.07 * j)
    values["focal_y"] += rng.normal(0.0, 0.06 * j)
    values["focal_r"] *= float(np.exp(rng.normal(0.0, 0.2 * j)))
    values["brightness"] += rng.normal(0.0, 0.06 * j)
    values["contrast"] *= float(np.exp(rng.normal(0.0, 0.12 * j)))
    values["saturation"] *= float(np.exp(rng.normal(0.0, 0.15 * j)))
    return replace(style, **values)


def _filtered_noise(
    rng: np.random.Generator, h: int, w: int, sigma_along: float, sigma_across: float, angle_deg: float
) -> np.ndarray:
    """White noise smoothed by an oriented Gaussian (FFT), normalised to zero mean, unit std. (h, w)"""
    noise = rng.standard_normal((h, w))
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    t = np.deg2rad(angle_deg)
    # Image y points down, so a counter-clockwise direction is (cos t, -sin t) in (x, y).
    u_along = fx * np.cos(t) - fy * np.sin(t)
    u_across = fx * np.sin(t) + fy * np.cos(t)
    gain = np.exp(-2 * np.pi**2 * (sigma_along**2 * u_along**2 + sigma_across**2 * u_across**2))
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * gain))
    field -= field.mean()
    return field / (field.std() + 1e-8)


@dataclass(frozen=True)
class _Canvas:
    """The painted area of one image, before it is padded to a square."""

    h: int
    w: int
    px: float  # pixels per unit of the style's lengths (given for a 50-pixel canvas)
    yy: np.ndarray  # (h, w) pixel-centre y in (0, 1), down
    xx: np.ndarray  # (h, w) pixel-centre x in (0, 1), right


def _canvas(s: ArtistStyle, size: int) -> _Canvas:
    # Canvas shape: the longer side fills the square, the other is padded (as the real loader does).
    aspect = float(np.exp(s.log_aspect))
    h, w = (size, max(4, round(size / aspect))) if aspect >= 1 else (max(4, round(size * aspect)), size)
    yy, xx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    return _Canvas(h, w, size / 50.0, yy, xx)


def _render_one(
    base: ArtistStyle, c: int, rng: np.random.Generator, size: int, mix: float, jitter: float, nuisance: float
) -> np.ndarray:
    """One image (3, size, size) float32 in [-0.5, 0.5]: the painting's layers bottom to top, then padding.

    The layers draw from `rng` in this fixed order, so an image depends only on its own stream.
    """
    s = _blend_style(base, c, rng, mix, jitter)
    cv = _canvas(s, size)
    img = _composition(s, cv, rng)  # (h, w, 3) in [0, 1] until the final tone
    img = _accent_patches(s, cv, rng, img)
    img = _dark_mass(s, cv, rng, img)
    img = _subject_matter(cv, rng, img, nuisance)
    img = _focal_figure(s, cv, img)
    img = _brush_strokes(s, cv, rng, img)
    img = _global_tone(s, rng, img)
    out = np.full((3, size, size), PAD_VALUE, dtype=np.float32)
    top_off, left_off = (size - cv.h) // 2, (size - cv.w) // 2
    out[:, top_off : top_off + cv.h, left_off : left_off + cv.w] = img.transpose(2, 0, 1)
    return out


def _composition(s: ArtistStyle, cv: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """1. A vertical gradient with a soft, wandering horizon. (h, w, 3)"""
    top, upper, lower, bottom = (np.asarray(v) for v in (s.top, s.upper, s.lower, s.bottom))
    yy, hz = cv.yy, s.horizon
    t_sky = np.clip(yy / max(hz, 1e-3), 0, 1)[..., None]
    t_gnd = np.clip((yy - hz) / max(1 - hz, 1e-3), 0, 1)[..., None]
    sky = (1 - t_sky) * top + t_sky * upper
    gnd = (1 - t_gnd) * lower + t_gnd * bottom
    edge = rng.normal(0, 1, cv.w).cumsum() * 0.012  # a wandering horizon line
    k = 1 / (1 + np.exp(-(yy - hz - edge[None, :]) / 0.025))
    return (1 - k[..., None]) * sky + k[..., None] * gnd


def _accent_patches(s: ArtistStyle, cv: _Canvas, rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """2. Low-frequency patches of the accent colour, blended or posterised with outlines."""
    blob = _filtered_noise(rng, cv.h, cv.w, s.blob_scale * cv.px, s.blob_scale * cv.px, 0.0)
    soft = 1 / (1 + np.exp(-(blob - 0.3) * 2.5))
    levels = np.digitize(blob, [-0.6, 0.0, 0.6])  # 4 flat regions
    flat_pal = np.stack([np.asarray(s.lower), np.asarray(s.upper), np.asarray(s.accent), np.asarray(s.focal)])
    flat_img = flat_pal[levels]
    outline = np.zeros((cv.h, cv.w), bool)
    outline[1:, :] |= levels[1:, :] != levels[:-1, :]
    outline[:, 1:] |= levels[:, 1:] != levels[:, :-1]
    flat_img[outline] *= 0.35
    a = np.clip(s.accent_amp, 0, 1) * soft[..., None]
    blended = (1 - a) * img + a * np.asarray(s.accent)
    f = float(np.clip(s.flat, 0, 1))
    return (1 - f) * blended + f * (0.6 * flat_img + 0.4 * blended)


def _dark_mass(s: ArtistStyle, cv: _Canvas, rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """3. A dark mass (trees, a wall) on one side, for artists that have one."""
    if not (abs(s.mass_side) > 0.05 and s.mass_amp > 0):
        return img
    side = cv.xx if s.mass_side > 0 else 1 - cv.xx
    mass_edge = 0.72 + 0.1 * _filtered_noise(rng, cv.h, cv.w, 4 * cv.px, 4 * cv.px, 0.0)
    m = 1 / (1 + np.exp(-(side - mass_edge) / 0.04)) * min(abs(s.mass_side), 1.0)
    return img * (1 - s.mass_amp * m[..., None]) + s.mass_amp * m[..., None] * 0.08


def _subject_matter(cv: _Canvas, rng: np.random.Generator, img: np.ndarray, nuisance: float) -> np.ndarray:
    """3b. Subject matter that has nothing to do with the artist: random shapes in random colours.

    It makes every image distinctive (easy to memorise) without helping to generalise, as the
    content of real paintings does.
    """
    if nuisance <= 0:
        return img
    xx, yy = cv.xx, cv.yy
    for _ in range(1 + rng.poisson(2.5)):
        cx, cy = rng.uniform(0, 1, 2)
        rx, ry = rng.uniform(0.06, 0.3, 2)
        colour = rng.uniform(0.05, 0.95, 3)
        if rng.uniform() < 0.5:
            d = np.maximum(np.abs(xx - cx) / rx, np.abs(yy - cy) / ry)  # rectangle
        else:
            d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)  # ellipse
        alpha = (nuisance * rng.uniform(0.5, 1.0)) / (1 + np.exp((d - 1) / 0.08))
        img = (1 - alpha[..., None]) * img + alpha[..., None] * colour
    return img


def _focal_figure(s: ArtistStyle, cv: _Canvas, img: np.ndarray) -> np.ndarray:
    """4. The focal figure or light: an ellipse with a soft edge."""
    r = max(s.focal_r, 0.03)
    d2 = ((cv.xx - s.focal_x) / r) ** 2 + ((cv.yy - s.focal_y) * (cv.h / cv.w) / (r * s.focal_elong)) ** 2
    g = np.exp(-0.5 * d2**2)[..., None] * np.clip(s.focal_amp, 0, 1)
    return (1 - g) * img + g * np.asarray(s.focal)


def _brush_strokes(s: ArtistStyle, cv: _Canvas, rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """5. Brush strokes: oriented texture modulating luminance and a little colour."""
    noise_args = (cv.h, cv.w, s.stroke_len * cv.px, s.stroke_width * cv.px, s.stroke_angle)
    stroke = _filtered_noise(rng, *noise_args)
    chroma = _filtered_noise(rng, *noise_args)
    img = img * (1 + s.stroke_amp * stroke[..., None])
    return img + 0.3 * s.stroke_amp * chroma[..., None] * np.array([0.6, -0.2, -0.4])


def _global_tone(s: ArtistStyle, rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """6. Saturation, contrast about the mean, brightness, and fine grain; returns (h, w, 3) in [-0.5, 0.5]."""
    lum = img.mean(axis=2, keepdims=True)
    img = lum + s.saturation * (img - lum)
    img = img.mean() + s.contrast * (img - img.mean()) + s.brightness
    img = img + rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0.0, 1.0) - 0.5
