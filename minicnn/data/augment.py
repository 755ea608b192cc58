"""Keras-style data augmentation: ``ImageAugmenter``, the knobs of ``ImageDataGenerator``.

    aug = ImageAugmenter(rotation_range=15, width_shift_range=0.1,
                         height_shift_range=0.1, horizontal_flip=True, seed=0)
    model.fit(x_train, y_train, augment=aug)       # aug(x_batch) on training batches only
    for xb, yb in aug.flow(x_train, y_train, batch_size=32):   # or your own loop
        ...

Each call draws, for every image of the batch, one random transformation:

- rotation_range: degrees; angle uniform in [-r, r].
- width_shift_range, height_shift_range: a number < 1 is a fraction of the
  width / height, a number >= 1 a count of pixels; the shift is uniform in
  [-r, r] (an int r: whole pixels -r..r). A list gives the allowed values.
- zoom_range: z -> factors in [1 - z, 1 + z], or a pair (lo, hi), drawn
  independently for width and height. As in Keras, a factor > 1 zooms *out*
  (the content looks smaller).
- shear_range: degrees; shear angle uniform in [-s, s].
- horizontal_flip, vertical_flip: each flip with probability 1/2.
- brightness_range: (lo, hi): pixel values multiplied by a factor in it,
  then clipped to the value range.
- fill_mode: how to fill pixels that come from outside the image:
  "nearest" (default), "constant" (with ``cval``), "reflect", "wrap".

Pixels are resampled bilinearly (as Keras does; ``interpolation="nearest"``
is cheaper) by the kernel in ``affine.py``. Order, as in Keras: geometry,
then flips, then brightness.

value_range: where brightness clips. By default (None): 0-255 for uint8
batches; for float batches 0-1 if all values are in [0, 1], 0-255 if they
are in [0, 255], and no clipping at all otherwise (standardised images have
negative values that must survive); give ``(lo, hi)`` to be explicit.

Differences from Keras, on purpose: an int shift range r draws from -r..r
(Keras: -(r-1)..r-1); a list of shifts is used as given (Keras also flips
its sign at random); shear is a pure shear matrix.
"""
from __future__ import annotations

import copy

import numpy as np

from . import _checks as chk
from .affine import FILL_MODES, INTERPOLATIONS, forward_matrix, warp

OWNER = "ImageAugmenter"


def _shift_range(arg, v):
    if isinstance(v, (tuple, list, np.ndarray)):
        v = list(v)
        if not v or not all(chk.is_number(t) for t in v):
            chk.fail(OWNER, arg, "a number >= 0 or a non-empty list of numbers", v)
        return v
    return chk.non_negative(OWNER, arg, v) if not chk.is_int(v) else int(
        chk.non_negative(OWNER, arg, v))


class ImageAugmenter:
    """Random geometric and brightness augmentation for NHWC batches.

    ``aug(x)`` takes (N, H, W, C) or (H, W, C), float or uint8, and returns a
    new array of the same shape and dtype (the input is never modified).
    It can also serve as a dataset's ``transform`` (whole batches at once).
    """

    supports_batches = True  # DataLoader may hand us whole batches (see transforms.Transform)

    def __init__(self, rotation_range=0.0, width_shift_range=0.0, height_shift_range=0.0,
                 zoom_range=0.0, shear_range=0.0, horizontal_flip=False, vertical_flip=False,
                 brightness_range=None, fill_mode="nearest", cval=0.0,
                 interpolation="bilinear", value_range=None, seed=None):
        self.rotation_range = chk.non_negative(OWNER, "rotation_range", rotation_range)
        self.width_shift_range = _shift_range("width_shift_range", width_shift_range)
        self.height_shift_range = _shift_range("height_shift_range", height_shift_range)
        if chk.is_number(zoom_range):
            if not 0 <= zoom_range < 1:
                chk.fail(OWNER, "zoom_range", "a number in [0, 1) or a pair (lo, hi) with 0 < lo <= hi",
                         zoom_range)
            zoom = (1.0 - zoom_range, 1.0 + zoom_range)
        else:
            zoom = chk.symmetric_range(OWNER, "zoom_range", zoom_range)
            if zoom[0] <= 0:
                chk.fail(OWNER, "zoom_range", "a number in [0, 1) or a pair (lo, hi) with 0 < lo <= hi",
                         zoom_range)
        self.zoom_range = zoom
        self.shear_range = chk.non_negative(OWNER, "shear_range", shear_range)
        if self.shear_range >= 90:
            chk.fail(OWNER, "shear_range", "a number of degrees in [0, 90)", shear_range)
        self.horizontal_flip = chk.flag(OWNER, "horizontal_flip", horizontal_flip)
        self.vertical_flip = chk.flag(OWNER, "vertical_flip", vertical_flip)
        if brightness_range is not None:
            if not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2:
                chk.fail(OWNER, "brightness_range", "None or a pair (lo, hi) with 0 <= lo <= hi",
                         brightness_range)
            brightness_range = chk.symmetric_range(OWNER, "brightness_range", brightness_range, low=0.0)
        self.brightness_range = brightness_range
        self.fill_mode = chk.choice(OWNER, "fill_mode", fill_mode, tuple(FILL_MODES))
        self.cval = chk.number(OWNER, "cval", cval)
        self.interpolation = chk.choice(OWNER, "interpolation", interpolation, tuple(INTERPOLATIONS))
        if value_range is not None:
            if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
                    or not all(chk.is_number(v) for v in value_range) or value_range[0] >= value_range[1]):
                chk.fail(OWNER, "value_range", "None or a pair (lo, hi) with lo < hi", value_range)
            value_range = (float(value_range[0]), float(value_range[1]))
        self.value_range = value_range
        self.seed = chk.seed(OWNER, seed)
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """The constructor arguments (``ImageAugmenter(**aug.get_config())`` makes a twin)."""
        return {k: getattr(self, k) for k in (
            "rotation_range", "width_shift_range", "height_shift_range", "zoom_range",
            "shear_range", "horizontal_flip", "vertical_flip", "brightness_range",
            "fill_mode", "cval", "interpolation", "value_range", "seed")}

    def __repr__(self):
        defaults = ImageAugmenter().get_config()
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v != defaults[k])
        return f"ImageAugmenter({args})"

    def reseed(self, seed) -> None:
        """Restart the random stream."""
        self.rng = np.random.default_rng(chk.seed(OWNER, seed))

    # ------------------------------------------------------------------ random parameters
    def _shift(self, spec, n, size):
        r = self.rng
        if isinstance(spec, list):
            v = r.choice(np.asarray(spec, dtype=np.float64), size=n)
        elif isinstance(spec, int):
            v = r.integers(-spec, spec + 1, size=n).astype(np.float64)
        else:
            v = r.uniform(-spec, spec, size=n)
        fraction = max(abs(float(t)) for t in spec) < 1 if isinstance(spec, list) else spec < 1
        return v * size if fraction else v

    def get_random_transform(self, n: int, height: int, width: int) -> dict:
        """Draw the parameters of ``n`` transformations, each an array of shape (n,):
        ``theta`` (deg), ``tx``, ``ty`` (pixels), ``zx``, ``zy``, ``shear`` (deg),
        ``flip_horizontal``, ``flip_vertical`` (bool), ``brightness`` (factor)."""
        r = self.rng
        return {
            "theta": r.uniform(-self.rotation_range, self.rotation_range, size=n),
            "tx": self._shift(self.width_shift_range, n, width),
            "ty": self._shift(self.height_shift_range, n, height),
            "zx": r.uniform(*self.zoom_range, size=n),
            "zy": r.uniform(*self.zoom_range, size=n),
            "shear": r.uniform(-self.shear_range, self.shear_range, size=n),
            "flip_horizontal": (r.random(n) < 0.5) & self.horizontal_flip,
            "flip_vertical": (r.random(n) < 0.5) & self.vertical_flip,
            "brightness": (r.uniform(*self.brightness_range, size=n)
                           if self.brightness_range is not None else np.ones(n)),
        }

    # ------------------------------------------------------------------ applying them
    def apply_transform(self, x, params: dict):
        """Apply given parameters (as from ``get_random_transform``) to a batch
        (N, H, W, C) or an image (H, W, C). Missing keys mean "no change".
        Deterministic: this is what the tests use to check one effect at a time."""
        batch, single = chk.image_batch(OWNER, x)
        N, H, W, _ = batch.shape
        p = {k: np.broadcast_to(np.asarray(v), (N,)) for k, v in params.items()}
        zeros, ones = np.zeros(N), np.ones(N)
        theta, tx, ty = p.get("theta", zeros), p.get("tx", zeros), p.get("ty", zeros)
        zx, zy, shear = p.get("zx", ones), p.get("zy", ones), p.get("shear", zeros)
        out = batch
        if np.any(theta) or np.any(tx) or np.any(ty) or np.any(zx != 1) or np.any(zy != 1) \
                or np.any(shear):
            forward = forward_matrix(H, W, angle=theta, tx=tx, ty=ty, sx=1.0 / zx, sy=1.0 / zy,
                                     shear_x=shear)
            out = warp(batch, forward, self.interpolation, self.fill_mode, self.cval)
        fh = p.get("flip_horizontal", np.zeros(N, bool)).astype(bool)
        fv = p.get("flip_vertical", np.zeros(N, bool)).astype(bool)
        if fh.any() or fv.any():
            out = out.copy() if out is batch else out
            out[fh] = out[fh, :, ::-1]
            out[fv] = out[fv, ::-1]
        b = p.get("brightness", ones)
        if np.any(b != 1):
            out = self._brightness(out, b)
        if out is batch:
            out = batch.copy()  # never hand back the caller's array
        return out[0] if single else out

    def _value_range(self, x):
        """Where brightness clips (see the module docstring); None: nowhere."""
        if self.value_range is not None:
            return self.value_range
        if x.dtype == np.uint8:
            return (0.0, 255.0)
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 255:
            return None
        return (0.0, 1.0) if hi <= 1 else (0.0, 255.0)

    def _brightness(self, x, factors):
        out = x.astype(np.float32) * factors.astype(np.float32)[:, None, None, None]
        bounds = self._value_range(x)
        if bounds is not None:
            np.clip(out, *bounds, out=out)
        return np.rint(out).astype(x.dtype) if np.issubdtype(x.dtype, np.integer) else out.astype(x.dtype)

    def __call__(self, x):
        """Augment a batch (N, H, W, C) (or one image): same shape and dtype, a new array."""
        batch, _ = chk.image_batch(OWNER, x)
        _, H, W, _ = batch.shape
        return self.apply_transform(x, self.get_random_transform(len(batch), H, W))

    # ------------------------------------------------------------------ iterating
    def flow(self, x, y=None, batch_size: int = 32, shuffle: bool = True, seed=None):
        """Batches of augmented ``x`` (float32) with their untouched labels.

        x: (N, H, W, C); y: (N, ...) or None. Yields ``(x_batch, y_batch)``, or
        ``x_batch`` alone when ``y`` is None (as Keras does).
        ``for xb, yb in aug.flow(x, y):`` runs one epoch (a new order each time);
        ``next(it)`` on the returned object cycles forever, like Keras.
        seed: as in Keras, fixes both the order and the augmentations of this
        flow (``flow(x, y, seed=1)`` twice gives the same batches); None uses
        the augmenter's own stream.
        """
        return FlowIterator(self, x, y, batch_size, shuffle, seed)


class FlowIterator:
    """What ``ImageAugmenter.flow`` returns: ``len()`` batches per epoch."""

    def __init__(self, augmenter, x, y=None, batch_size=32, shuffle=True, seed=None):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"ImageAugmenter.flow: x must be (N, H, W, C), got shape {x.shape}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"ImageAugmenter.flow: x has {len(x)} samples but y has {len(y)}")
        if not chk.is_int(batch_size) or batch_size < 1:
            chk.fail("ImageAugmenter.flow", "batch_size", "an int >= 1", batch_size)
        self.shuffle = chk.flag("ImageAugmenter.flow", "shuffle", shuffle)
        chk.seed("ImageAugmenter.flow", seed)
        if seed is not None:
            # Our own copy of the augmenter with a stream derived from the seed:
            # reproducible, and the caller's augmenter is not consumed.
            order_seed, augment_seed = np.random.SeedSequence(seed).spawn(2) \
                if chk.is_int(seed) else (seed, seed)
            augmenter = copy.copy(augmenter)
            augmenter.reseed(augment_seed)
            seed = order_seed
        self.augmenter, self.x, self.y = augmenter, x, (None if y is None else np.asarray(y))
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self._current = iter(())

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            xb = self.augmenter(self.x[idx].astype(np.float32))
            yield xb if self.y is None else (xb, self.y[idx])

    def __next__(self):
        try:
            return next(self._current)
        except StopIteration:
            self._current = self.__iter__()
            return next(self._current)
