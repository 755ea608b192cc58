"""torchvision-style transforms on NHWC numpy images.

Every transform is a callable object. It takes one image ``(H, W, C)`` or a
batch ``(N, H, W, C)`` and returns the same kind of thing, never modifying its
input. On a batch, each image gets its own random draw, and the work is done
for the whole batch at once where possible (fancy indexing, one Numba call).

Randomness comes only from the transform's own ``np.random.Generator``
(``seed=`` in the constructor; ``reseed(seed)`` to restart it), so the same
seed gives the same images.

    >>> t = Compose([RandomHorizontalFlip(seed=0), RandomCrop(32, padding=4, seed=1),
    ...              ToFloat(), Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])
    >>> t(x_batch_uint8).shape == x_batch_uint8.shape    # doctest: +SKIP

Value ranges: uint8 images are 0-255; float images are taken to be 0-1 (use
``ToFloat`` first), which matters for ``ColorJitter``'s clipping. The usual
order is torchvision's: geometry and colour on the raw image, then
``ToFloat``, ``Normalize``, and ``RandomErasing`` last (it works on normalised
images: ``value=0`` erases to the dataset mean, ``value="random"`` draws
standard-normal noise, as in torchvision).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _checks as chk
from .affine import INTERPOLATIONS, forward_matrix, warp

__all__ = [
    "Transform", "Compose", "ToFloat", "Normalize", "RandomHorizontalFlip",
    "RandomVerticalFlip", "RandomCrop", "RandomRotation", "RandomAffine",
    "ColorJitter", "RandomErasing",
]


def _value_max(x: np.ndarray) -> float:
    """The top of the value range: 255 for uint8, 1.0 for floats."""
    return 255.0 if x.dtype == np.uint8 else 1.0


class Transform(ABC):
    """Base class: turns a single image into a batch of one and back.

    Subclasses implement ``apply_batch(x)`` for ``x: (N, H, W, C)``.
    ``supports_batches`` tells ``DataLoader`` it may call us on whole batches.
    """

    supports_batches = True

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(chk.seed(type(self).__name__, seed))

    def reseed(self, seed) -> None:
        """Restart the random stream (the same seed gives the same outputs again)."""
        self.rng = np.random.default_rng(chk.seed(type(self).__name__, seed))

    def __call__(self, x):
        batch, single = chk.image_batch(type(self).__name__, x)
        out = self.apply_batch(batch)
        return out[0] if single else out

    @abstractmethod
    def apply_batch(self, x: np.ndarray) -> np.ndarray:
        """x: (N, H, W, C) -> the transformed batch (what each subclass defines)."""

    def _args(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply ``transforms`` one after the other (any callables ``x -> x``)."""

    def __init__(self, transforms):
        if not all(callable(t) for t in transforms):
            chk.fail("Compose", "transforms", "a list of callables", transforms)
        self.transforms = list(transforms)
        self.supports_batches = all(getattr(t, "supports_batches", False) for t in self.transforms)

    def reseed(self, seed) -> None:
        """Give each member its own stream derived from ``seed``."""
        children = np.random.SeedSequence(seed).spawn(len(self.transforms))
        for t, s in zip(self.transforms, children):
            if hasattr(t, "reseed"):
                t.reseed(s)

    def __call__(self, x):
        # Each member takes an image or a batch itself (members may be any callables).
        for t in self.transforms:
            x = t(x)
        return x

    def apply_batch(self, x):
        """x: (N, H, W, C) -> each member applied in turn."""
        return self(x)

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class ToFloat(Transform):
    """uint8 0-255 -> float32 0-1 (``x / 255``); float input is only cast to float32."""

    def __init__(self):
        super().__init__(None)

    def apply_batch(self, x):
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255.0)
        if np.issubdtype(x.dtype, np.floating):
            return x.astype(np.float32)
        raise TypeError(f"ToFloat: expected uint8 or float images, got {x.dtype}")


class Normalize(Transform):
    """``(x - mean) / std`` per channel; float input only (put ``ToFloat`` first).

    mean, std: a number or one value per channel; std > 0.
    """

    def __init__(self, mean, std):
        super().__init__(None)
        self.mean = self._values("mean", mean, "a number or a sequence of finite numbers")
        self.std = self._values("std", std, "a number or a sequence of numbers > 0")
        if not np.all(self.std > 0):
            chk.fail("Normalize", "std", "a number or a sequence of numbers > 0", std)

    @staticmethod
    def _values(arg, v, rule):
        try:
            a = np.atleast_1d(np.asarray(v, dtype=np.float64))
        except (TypeError, ValueError):
            chk.fail("Normalize", arg, rule, v)
        if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
            chk.fail("Normalize", arg, rule, v)
        return a

    def apply_batch(self, x):
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Normalize: expected float images, got {x.dtype}; "
                            f"put ToFloat() before Normalize")
        C = x.shape[-1]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, C):
                raise ValueError(f"Normalize: {name} has {v.size} values but the images have {C} channels")
        dtype = x.dtype
        return ((x - self.mean.astype(dtype)) / self.std.astype(dtype)).astype(dtype)

    def _args(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability ``p``."""

    axis = 2  # W in (N, H, W, C)

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        self.p = chk.probability(type(self).__name__, "p", p)

    def apply_batch(self, x):
        flip = self.rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = np.flip(x[flip], axis=self.axis)
        return out

    def _args(self):
        return {"p": self.p}


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    axis = 1  # H


class RandomCrop(Transform):
    """Pad by ``padding`` (filled with ``fill``), then cut a random ``size`` window.

    size: int or (h, w) > 0; padding: int or (ph, pw) >= 0 (or None), added on both sides.
    The classic CIFAR recipe is ``RandomCrop(32, padding=4)``: shifts of up to
    4 pixels in each direction, same output shape.

    A pair is (rows, columns) here, like ``size`` and like minicnn's conv
    padding; torchvision's 2-tuple padding is the other way round
    (left/right, top/bottom). With an int, as almost always, they agree.
    """

    def __init__(self, size, padding=0, fill=0, seed=None):
        super().__init__(seed)
        self.size = _pair("RandomCrop", "size", size, minimum=1)
        # None: torchvision's default, the same as 0
        self.padding = _pair("RandomCrop", "padding", 0 if padding is None else padding, minimum=0)
        self.fill = chk.number("RandomCrop", "fill", fill)

    def apply_batch(self, x):
        N, H, W, C = x.shape
        ph, pw = self.padding
        h, w = self.size
        if h > H + 2 * ph or w > W + 2 * pw:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the padded image "
                             f"({H + 2 * ph}, {W + 2 * pw})")
        padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)),
                        constant_values=_fill_value("RandomCrop", "fill", self.fill, x.dtype))
        top = self.rng.integers(0, H + 2 * ph - h + 1, size=N)
        left = self.rng.integers(0, W + 2 * pw - w + 1, size=N)
        # A view of every h x w window of every image, (N, rows, cols, C, h, w),
        # built without copying; pick one window per image, then back to NHWC.
        windows = sliding_window_view(padded, (h, w), axis=(1, 2))
        return np.ascontiguousarray(windows[np.arange(N), top, left].transpose(0, 2, 3, 1))

    def _args(self):
        return {"size": self.size, "padding": self.padding}


class RandomAffine(Transform):
    """Random rotation, translation, scale and shear about the image centre.

    degrees:   d -> angle uniform in [-d, d]; or a pair (lo, hi). Counter-clockwise.
    translate: (a, b) in [0, 1] -> shift up to a*W horizontally, b*H vertically
               (rounded to whole pixels, as torchvision does); None for none.
    scale:     (lo, hi) with 0 < lo <= hi; None for 1.
    shear:     s -> x-shear angle in [-s, s] degrees; (lo, hi); or
               (xlo, xhi, ylo, yhi) for both axes; None for none.
    interpolation "nearest" | "bilinear"; outside pixels take ``fill``.
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation="nearest", fill=0, seed=None):
        super().__init__(seed)
        name = type(self).__name__
        self.degrees = chk.symmetric_range(name, "degrees", degrees)
        if translate is not None:
            if (not isinstance(translate, (tuple, list)) or len(translate) != 2
                    or not all(chk.is_number(t) and 0 <= t <= 1 for t in translate)):
                chk.fail(name, "translate", "None or a pair (a, b) of numbers in [0, 1]", translate)
            translate = (float(translate[0]), float(translate[1]))
        self.translate = translate
        if scale is not None:
            if (not isinstance(scale, (tuple, list)) or len(scale) != 2
                    or not all(chk.is_number(s) and s > 0 for s in scale) or scale[0] > scale[1]):
                chk.fail(name, "scale", "None or a pair (lo, hi) with 0 < lo <= hi", scale)
            scale = (float(scale[0]), float(scale[1]))
        self.scale = scale
        if shear is None:
            self.shear = None
        elif isinstance(shear, (tuple, list)) and len(shear) == 4:
            self.shear = (chk.symmetric_range(name, "shear", tuple(shear[:2]), -89, 89)
                          + chk.symmetric_range(name, "shear", tuple(shear[2:]), -89, 89))
        else:
            self.shear = chk.symmetric_range(name, "shear", shear, -89, 89) + (0.0, 0.0)
        self.interpolation = chk.choice(name, "interpolation", interpolation, tuple(INTERPOLATIONS))
        self.fill = chk.number(name, "fill", fill)

    def sample(self, n: int, height: int, width: int) -> dict:
        """Draw the parameters of ``n`` transformations (arrays of shape (n,))."""
        r = self.rng
        p = {"angle": r.uniform(*self.degrees, size=n)}
        if self.translate is not None:
            p["tx"] = np.rint(r.uniform(-1, 1, size=n) * self.translate[0] * width)
            p["ty"] = np.rint(r.uniform(-1, 1, size=n) * self.translate[1] * height)
        if self.scale is not None:
            p["sx"] = p["sy"] = r.uniform(*self.scale, size=n)
        if self.shear is not None:
            p["shear_x"] = r.uniform(self.shear[0], self.shear[1], size=n)
            p["shear_y"] = r.uniform(self.shear[2], self.shear[3], size=n)
        return p

    def apply_batch(self, x):
        N, H, W, _ = x.shape
        forward = forward_matrix(H, W, **self.sample(N, H, W))
        return warp(x, forward, self.interpolation, "constant", self.fill)

    def _args(self):
        return {"degrees": self.degrees, "translate": self.translate, "scale": self.scale,
                "shear": self.shear, "interpolation": self.interpolation, "fill": self.fill}


class RandomRotation(RandomAffine):
    """Rotate by an angle uniform in [-degrees, degrees] (or in a pair (lo, hi))."""

    def __init__(self, degrees, interpolation="nearest", fill=0, seed=None):
        super().__init__(degrees, interpolation=interpolation, fill=fill, seed=seed)

    def _args(self):
        return {"degrees": self.degrees, "interpolation": self.interpolation, "fill": self.fill}


class ColorJitter(Transform):
    """Random brightness and contrast, each image its own factors.

    brightness b: factor in [max(0, 1-b), 1+b] (or a pair), ``x * f``.
    contrast c:   factor in [max(0, 1-c), 1+c] (or a pair), blend with the
                  image's mean grey level: ``mean + f * (x - mean)``.
    Results are clipped to the value range (0-255 uint8, 0-1 float), so use
    it before ``Normalize``. Brightness is always applied before contrast
    (torchvision shuffles the order of its adjustments).
    """

    def __init__(self, brightness=0.0, contrast=0.0, seed=None):
        super().__init__(seed)
        self.brightness = self._factor_range("brightness", brightness)
        self.contrast = self._factor_range("contrast", contrast)

    @staticmethod
    def _factor_range(arg, v):
        if chk.is_number(v):
            if v < 0:
                chk.fail("ColorJitter", arg, "a number >= 0 or a pair (lo, hi) with 0 <= lo <= hi", v)
            return (max(0.0, 1.0 - float(v)), 1.0 + float(v))
        return chk.symmetric_range("ColorJitter", arg, v, low=0.0)

    def apply_batch(self, x):
        N, C = len(x), x.shape[-1]
        top = _value_max(x)
        out = x.astype(np.float32)
        b = self.rng.uniform(*self.brightness, size=N).astype(np.float32)
        out *= b[:, None, None, None]
        np.clip(out, 0.0, top, out=out)
        c = self.rng.uniform(*self.contrast, size=N).astype(np.float32)
        if C == 3:  # ITU-R 601 luma, as torchvision's rgb_to_grayscale
            grey = out @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        else:
            grey = out.mean(axis=-1)
        mean = grey.mean(axis=(1, 2))[:, None, None, None]
        out = mean + c[:, None, None, None] * (out - mean)
        np.clip(out, 0.0, top, out=out)
        return np.rint(out).astype(np.uint8) if x.dtype == np.uint8 else out.astype(x.dtype)

    def _args(self):
        return {"brightness": self.brightness, "contrast": self.contrast}


class RandomErasing(Transform):
    """With probability ``p``, blank a random rectangle (Zhong et al., 2017).

    scale: (lo, hi) fraction of the image area, 0 < lo <= hi <= 1.
    ratio: (lo, hi) aspect ratio h/w of the rectangle, 0 < lo <= hi (drawn log-uniform).
    value: a number, one number per channel, or "random": standard-normal noise
           for float images (torchvision's choice: it expects normalised
           images, so put RandomErasing after Normalize), uniform 0-255 for uint8.
    Up to 10 tries per image to find a rectangle that fits; else the image is kept.
    """

    TRIES = 10

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, seed=None):
        super().__init__(seed)
        self.p = chk.probability("RandomErasing", "p", p)
        if (not isinstance(scale, (tuple, list)) or len(scale) != 2
                or not all(chk.is_number(s) for s in scale) or not 0 < scale[0] <= scale[1] <= 1):
            chk.fail("RandomErasing", "scale", "a pair (lo, hi) with 0 < lo <= hi <= 1", scale)
        if (not isinstance(ratio, (tuple, list)) or len(ratio) != 2
                or not all(chk.is_number(r) for r in ratio) or not 0 < ratio[0] <= ratio[1]):
            chk.fail("RandomErasing", "ratio", "a pair (lo, hi) with 0 < lo <= hi", ratio)
        if not (value == "random" if isinstance(value, str) else
                chk.is_number(value) or (isinstance(value, (tuple, list))
                                         and all(chk.is_number(v) for v in value))):
            chk.fail("RandomErasing", "value", "a number, a sequence of numbers or 'random'", value)
        self.scale, self.ratio, self.value = tuple(scale), tuple(ratio), value

    def apply_batch(self, x):
        N, H, W, C = x.shape
        r = self.rng
        out = x.copy()
        erase = r.random(N) < self.p
        # Draw all tries for all images at once, then keep each image's first fit.
        area = H * W * r.uniform(*self.scale, size=(N, self.TRIES))
        aspect = np.exp(r.uniform(*np.log(self.ratio), size=(N, self.TRIES)))
        h = np.rint(np.sqrt(area * aspect)).astype(int)
        w = np.rint(np.sqrt(area / aspect)).astype(int)
        fits = (h >= 1) & (w >= 1) & (h < H) & (w < W)
        first = fits.argmax(axis=1)
        erase &= fits.any(axis=1)
        u_top, u_left = r.random(N), r.random(N)
        if self.value == "random":
            noise = (r.integers(0, 256, size=x.shape, dtype=np.uint8) if x.dtype == np.uint8
                     else r.standard_normal(size=x.shape).astype(x.dtype))
        else:
            fill = np.asarray(self.value, dtype=np.float64)
            if fill.size not in (1, C):
                raise ValueError(f"RandomErasing: value has {fill.size} numbers but the images "
                                 f"have {C} channels")
            fill = np.broadcast_to(_fill_value("RandomErasing", "value", fill, x.dtype), (C,))
        for n in np.flatnonzero(erase):
            hh, ww = h[n, first[n]], w[n, first[n]]
            top = int(u_top[n] * (H - hh + 1))
            left = int(u_left[n] * (W - ww + 1))
            patch = noise[n, top:top + hh, left:left + ww] if self.value == "random" else fill
            out[n, top:top + hh, left:left + ww] = patch
        return out

    def _args(self):
        return {"p": self.p, "scale": self.scale, "ratio": self.ratio, "value": self.value}


def _fill_value(owner, arg, value, dtype):
    """``value`` as ``dtype``; for integer images it must fit (300 would wrap round in uint8)."""
    value = np.asarray(value, dtype=np.float64)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if np.any(value < info.min) or np.any(value > info.max):
            raise ValueError(f"{owner}: {arg}={value.tolist()} does not fit {np.dtype(dtype).name} "
                             f"images ({info.min}..{info.max})")
        value = np.rint(value)
    return value.astype(dtype)


def _pair(owner, arg, v, minimum):
    if chk.is_int(v):
        v = (v, v)
    if not (isinstance(v, (tuple, list)) and len(v) == 2 and all(chk.is_int(t) for t in v)) \
            or min(v) < minimum:
        chk.fail(owner, arg, f"an int or a pair of ints >= {minimum}", v)
    return (int(v[0]), int(v[1]))
