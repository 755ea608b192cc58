"""``DataLoader``: iterate over a dataset in (shuffled) mini-batches.

    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
    for epoch in range(3):
        for x, y in loader:        # x: (B, H, W, C), y: (B,) numpy arrays
            ...

Each pass draws a new order from the loader's own generator, so epochs differ
from one another but a run is reproducible from ``seed``.
"""
from __future__ import annotations

import numpy as np

from . import _checks as chk
from .datasets import Dataset


class DataLoader:
    """Mini-batches ``(x_batch, y_batch)`` of a dataset (NHWC numpy arrays).

    dataset:    anything with ``len`` and ``[i] -> (x, y)``; if it has
                ``get_batch(indices)`` (our datasets do) whole batches are
                fetched and transformed at once.
    batch_size: samples per batch (the last one may be smaller ...)
    drop_last:  ... unless this is True.
    shuffle, seed: a new random order every epoch, from ``np.random.default_rng(seed)``.
    """

    def __init__(self, dataset, batch_size: int = 32, shuffle: bool = False, seed=None,
                 drop_last: bool = False):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            chk.fail("DataLoader", "dataset", "a dataset with len() and [i]", dataset)
        if not chk.is_int(batch_size) or batch_size < 1:
            chk.fail("DataLoader", "batch_size", "an int >= 1", batch_size)
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle = chk.flag("DataLoader", "shuffle", shuffle)
        self.drop_last = chk.flag("DataLoader", "drop_last", drop_last)
        self.rng = np.random.default_rng(chk.seed("DataLoader", seed))

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if hasattr(self.dataset, "get_batch"):
                yield self.dataset.get_batch(idx)
            else:  # any object with [i] -> (x, y): one by one, then stacked
                yield Dataset.get_batch(self.dataset, idx)

    def __repr__(self):
        return (f"DataLoader(batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, batches={len(self)})")
