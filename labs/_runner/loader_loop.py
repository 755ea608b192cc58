"""Training the PyTorch way: a ``Dataset`` with torchvision-style transforms, a
``DataLoader``, and a hand-written loop of ``model.train_on_batch`` over it.

    dataset = ArrayDataset(x_train, y_train, transform=Compose([RandomHorizontalFlip(), ...]))
    loader  = DataLoader(dataset, batch_size=64, shuffle=True, seed=...)
    for epoch in range(epochs):
        logs = train_one_epoch(model, loader)        # one optimizer step per batch
        test = evaluate(model, x_test, y_test)       # after every epoch, as PyTorch's MNIST example

A run chooses it with ``RunSpec(loop="loader", transforms=[...])``. Transforms
are stored in the run's configuration as plain dicts
(``{"class_name": "RandomCrop", "size": [28, 28], "padding": [2, 2], "fill": 0}``)
and rebuilt from them, so a run folder says exactly which pipeline trained it.
Every random generator of the pipeline (the loader's order, each transform's
draws) is returned by :func:`generators` so the checkpoint can save and
restore it: a resumed run draws the same batches and the same augmentations.
"""
from __future__ import annotations

import inspect
import json
from typing import Callable, Dict, List, Optional

import numpy as np

from minicnn.data import ArrayDataset, DataLoader, transforms as T
from minicnn.metrics import accuracy


def transform_config(transform) -> dict:
    """A transform as ``{"class_name": ..., constructor argument: value}`` (JSON types, no seed).

    The arguments are read back from the attributes of the same names, which
    every transform in ``minicnn.data.transforms`` keeps.
    """
    cls = type(transform)
    if getattr(T, cls.__name__, None) is not cls:
        raise ValueError(f"transforms: {cls.__name__} is not a transform of minicnn.data.transforms "
                         f"(a run's configuration must be able to rebuild it)")
    names = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "seed")]
    missing = [n for n in names if not hasattr(transform, n)]
    if missing:
        raise ValueError(f"transforms: {cls.__name__} does not keep its argument(s) {missing} as attributes")
    args = {n: getattr(transform, n) for n in names}
    args = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    return json.loads(json.dumps({"class_name": cls.__name__, **args}))


def transforms_config(transforms) -> Optional[List[dict]]:
    """A list of transforms (or a ``Compose``) -> a list of configs; None stays None."""
    if transforms is None:
        return None
    if isinstance(transforms, T.Compose):
        transforms = transforms.transforms
    if isinstance(transforms, (list, tuple)) and all(isinstance(t, dict) for t in transforms):
        return json.loads(json.dumps(list(transforms)))
    return [transform_config(t) for t in transforms]


def build_transform(configs: List[dict], seed: int) -> T.Compose:
    """The configs as one ``Compose``, its members seeded from ``seed`` (each its own stream)."""
    members = []
    for config in configs:
        config = dict(config)
        name = config.pop("class_name")
        cls = getattr(T, name, None)
        if not (isinstance(cls, type) and issubclass(cls, T.Transform)):
            raise ValueError(f"transforms: unknown transform {name!r}; known: {', '.join(T.__all__)}")
        members.append(cls(**config))
    pipeline = T.Compose(members)
    pipeline.reseed(seed)
    return pipeline


def build_loader(x: np.ndarray, y: np.ndarray, batch_size: int, transforms: Optional[List[dict]],
                 shuffle_seed: int, transform_seed: int) -> DataLoader:
    """A shuffling ``DataLoader`` over ``ArrayDataset(x, y, transform)``.

    x: (N, H, W, C) float32 images in [0, 1]; y: (N,) labels or (N, K) one-hot targets.
    """
    transform = build_transform(transforms, transform_seed) if transforms else None
    return DataLoader(ArrayDataset(x, y, transform=transform), batch_size=batch_size, shuffle=True,
                      seed=shuffle_seed)


def generators(loader: DataLoader) -> Dict[str, np.random.Generator]:
    """name -> generator for the loader's order and every transform's draws (for checkpoints)."""
    gens = {"loader": loader.rng}
    transform = loader.dataset.transform
    for i, t in enumerate(getattr(transform, "transforms", [])):
        if isinstance(getattr(t, "rng", None), np.random.Generator):
            gens[f"transform/{i}"] = t.rng
    return gens


def train_one_epoch(model, loader, on_batch: Optional[Callable[[int, dict], None]] = None) -> dict:
    """One pass over ``loader``: ``model.train_on_batch(x, y)`` for every batch.

    -> ``{"loss", "accuracy"}``: the means over the epoch's batches (weighted by
    batch size), measured during training, so with dropout active and on the
    augmented images, as Keras' ``fit`` history and PyTorch's logged loss are.
    ``train_on_batch`` returns only the loss; the batch's accuracy is read from
    the scores the output layer produced for it, caught with a forward hook.
    """
    output_layer = model.nodes[-1].layer
    scores = {}
    handle = output_layer.register_forward_hook(lambda layer, inputs, output: scores.update(last=output))
    total_loss = total_correct = seen = 0.0
    try:
        for batch, (x, y) in enumerate(loader):
            loss = model.train_on_batch(x, y)
            if not np.isfinite(loss):
                raise FloatingPointError(f"train_one_epoch: the loss is {loss} at batch {batch + 1}/{len(loader)}: "
                                         f"lower the learning rate (or check the data for NaN/inf)")
            n = len(x)
            total_loss += loss * n
            total_correct += accuracy(scores["last"], y) * n
            seen += n
            if on_batch is not None:
                on_batch(batch, {"loss": total_loss / seen, "accuracy": total_correct / seen})
    finally:
        handle.remove()
    return {"loss": total_loss / seen, "accuracy": total_correct / seen}
