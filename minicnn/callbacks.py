"""Callbacks (Keras' interface): hooks into the training loop.

The loop calls, in order: on_train_begin, then per epoch on_epoch_begin,
on_batch_end (per batch), on_epoch_end (with the epoch's logs), and finally
on_train_end. A callback stops training by setting ``model.stop_training``.
"""
from __future__ import annotations

import math
import os

import numpy as np


class Callback:
    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_nonfinite_loss(self, batch, loss) -> bool:
        """Called when a batch loss is NaN/inf (fit never applies that batch's update).

        Return True if this callback handles it (TerminateOnNaN sets
        ``model.stop_training``); if no callback does, fit raises a
        FloatingPointError naming the epoch, the batch and the cause.
        """
        return False


class History(Callback):
    """``history.history``: dict metric -> list of per-epoch values; ``history.epoch``."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"<History {len(self.epoch)} epochs, last {last}>"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.restore_best_weights = restore_best_weights
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch = 0, None
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_weights = None

    def _improved(self, value):
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"EarlyStopping: metric {self.monitor!r} is not available; have {sorted(logs or {})}")
        if self._improved(value):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model after each epoch (``save_best_only``: when ``monitor`` improves).

    ``filepath`` may contain ``{epoch}`` and metric names, e.g. "ckpt-{epoch:02d}.npz".
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        from .io import check_save_path
        self.filepath = check_save_path(filepath, "ModelCheckpoint")  # refuse "ckpt.h5" now, not after an epoch
        self.monitor, self.save_best_only = monitor, save_best_only
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.best = -math.inf if self.mode == "max" else math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                raise ValueError(f"ModelCheckpoint: metric {self.monitor!r} is not available; have {sorted(logs)}")
            better = value > self.best if self.mode == "max" else value < self.best
            if not better:
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.model.save(path)


class TerminateOnNaN(Callback):
    """Stop at the first NaN/inf batch loss; the weights stay those of the last finite step."""

    def __init__(self):
        self.message = None

    def on_nonfinite_loss(self, batch, loss):
        self.model.stop_training = True
        self.message = (f"TerminateOnNaN: batch {batch} gave loss {loss}; training stopped, "
                        f"the weights are those after the last finite step")
        print(self.message)
        return True  # handled: fit stops without an error


class LambdaCallback(Callback):
    def __init__(self, on_epoch_end=None, on_batch_end=None):
        self._epoch, self._batch = on_epoch_end, on_batch_end

    def on_epoch_end(self, epoch, logs=None):
        if self._epoch:
            self._epoch(epoch, logs)

    def on_batch_end(self, batch, logs=None):
        if self._batch:
            self._batch(batch, logs)
