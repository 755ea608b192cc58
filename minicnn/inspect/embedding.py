"""Feature vectors of a layer and their 2-D t-SNE map (Ex08 q. 2).

The output of a hidden layer (e.g. the first Dense, "fc1") is the network's
own description of an image. If the classes form separate clusters in that
space, the last layer (a linear classifier) has an easy job; t-SNE draws the
space on a plane while keeping neighbours together.
"""
from __future__ import annotations

import numpy as np

from ._graph import as_float_input, batches, resolve_node, submodel

__all__ = ["features", "tsne"]


def features(model, x, layer, batch_size: int = 256) -> np.ndarray:
    """The output of ``layer`` for every sample, flattened: (N, D) for x (N, H, W, C).

    Runs in inference mode, batch by batch, only as far as ``layer``: Keras'
    feature extractor ``Model(inputs=model.input, outputs=layer.output)``.
    """
    x = as_float_input(model, x, "features")
    extractor = submodel(model, resolve_node(model, layer, "features"))
    batches(len(x), batch_size, "features")  # checks batch_size
    out = extractor.predict(x, batch_size=batch_size or max(len(x), 1))
    return out.reshape(len(x), -1)


def tsne(features, seed: int = 0, n_components: int = 2, perplexity: float = 30.0, **kwargs) -> np.ndarray:
    """scikit-learn's t-SNE of ``features`` (N, D) -> (N, n_components).

    perplexity (about the number of neighbours each point considers) must be
    smaller than N; it is lowered to (N - 1) / 3 for small sets. ``seed``
    makes the result reproducible; other keywords go to
    ``sklearn.manifold.TSNE``.
    """
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"tsne: features must be (N, D) with N >= 2, got shape {features.shape}")
    perplexity = min(perplexity, max(1.0, (len(features) - 1) / 3))
    kwargs.setdefault("init", "pca")
    return TSNE(n_components=n_components, perplexity=perplexity, random_state=seed, **kwargs).fit_transform(features)
