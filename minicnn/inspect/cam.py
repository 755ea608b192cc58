"""Class activation maps: *where* in the image the evidence for a class lies (PW11 ex. 3).

CAM (Zhou et al., 2016) needs a network that ends with
conv features A (N, h, w, F) -> GlobalAvgPool2D -> Dense(K). Then the class
score is linear in A:

    logit_c = sum_f w[f, c] * mean_{i,j} A[i, j, f] + b_c
            = mean_{i,j} ( sum_f w[f, c] * A[i, j, f] ) + b_c,

so CAM_c[i, j] = sum_f w[f, c] * A[i, j, f] is a map whose mean *is* the
class score (minus the bias): it splits the score over the positions.

Grad-CAM (Selvaraju et al., 2017) works on any conv layer of any network by
replacing w[f, c] with the average gradient alpha_f = mean_{i,j} d logit_c /
d A[i, j, f], and keeping only the positive part:

    GradCAM_c = ReLU( sum_f alpha_f * A[:, :, f] ).

On a GAP -> Dense network, d logit_c / d A[i, j, f] = w[f, c] / (h w) at
every position, so Grad-CAM = ReLU(CAM) / (h w): the two agree.

HiResCAM (Draelos & Carin, 2020) skips the averaging: map = ReLU(sum_f dA_f *
A_f), position by position. On a Flatten -> Dense head (the course's simple
CNN), where Grad-CAM's averaged weights are often all negative and its map
all zero, HiResCAM still splits the class score exactly over the positions.

Both return maps at the layer's resolution (N, h, w); ``upsample_to_input``
resizes them to the image's (H, W) to lay them over it.
"""
from __future__ import annotations

import numpy as np

from ._graph import as_float_input, node_index, resolve_node, submodel
from .gradients import _Probe

__all__ = ["class_activation_map", "grad_cam", "hires_cam", "upsample_to_input", "default_cam_layer"]

# layers that are the identity in inference mode, allowed between GAP and Dense
_PASS_THROUGH = ("Dropout", "Flatten")


def _class_indices(class_index, n: int, k: int, owner: str) -> np.ndarray:
    """class_index (an int or (N,) ints, each in 0..k-1) -> (N,) ints, or a ValueError naming owner."""
    idx = np.asarray(class_index)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"{owner}: class_index must be an int or (N,) ints, got class_index={class_index!r}")
    idx = np.broadcast_to(idx, (n,)) if idx.ndim == 0 else idx
    if idx.shape != (n,):
        raise ValueError(f"{owner}: class_index must be an int or one per sample, shape ({n},), "
                         f"got shape {idx.shape}")
    if idx.min() < 0 or idx.max() >= k:
        bad = idx[(idx < 0) | (idx >= k)][0]
        raise ValueError(f"{owner}: class_index={class_index!r}: class {bad} out of range 0..{k - 1} "
                         f"(the model has {k} classes)")
    return idx


def _is_softmax(layer) -> bool:
    """A Softmax layer or Activation("softmax"): the identity on the logits."""
    return type(layer).__name__ in ("Softmax", "Activation") and getattr(layer, "outputs_softmax", False)


def _gap_dense(model):
    """(GAP node, Dense layer) of a conv -> GlobalAvgPool2D -> Dense network, or a ValueError.

    Between the GAP and the Dense only layers that are the identity in
    inference mode (Dropout, Flatten) are allowed, and after the Dense only a
    softmax: then the logit is exactly linear in the GAP's input.
    """
    nodes = model.nodes
    gaps = [i for i, n in enumerate(nodes) if type(n.layer).__name__ == "GlobalAvgPool2D"]
    if not gaps:
        raise ValueError(f"class_activation_map: model {model.name!r} has no GlobalAvgPool2D layer; CAM needs "
                         f"conv -> GlobalAvgPool2D -> Dense (use grad_cam for other networks)")
    g = gaps[-1]
    after = [n.layer for n in nodes[g + 1:]]
    if after and _is_softmax(after[-1]):
        after = after[:-1]
    dense = [l for l in after if type(l).__name__ not in _PASS_THROUGH]
    if (len(dense) != 1 or type(dense[0]).__name__ != "Dense" or after[-1] is not dense[0]
            or getattr(dense[0], "activation", None) not in (None, "linear", "softmax")):
        names = [f"{l.name} ({type(l).__name__})" for l in after]
        raise ValueError(f"class_activation_map: after {nodes[g].layer.name!r} the network must be one Dense "
                         f"layer without activation or with softmax (Dropout/Flatten allowed before it, a "
                         f"Softmax layer after it), got {names}; use grad_cam instead")
    return nodes[g], dense[0]


def class_activation_map(model, x, class_index) -> np.ndarray:
    """CAM for a conv -> GlobalAvgPool2D -> Dense network: (N, h, w) for x (N, H, W, C).

    CAM[n] = sum_f w[f, c_n] * A[n, :, :, f], with A the features entering the
    GlobalAvgPool2D (a sub-model's output: ``Model(model.input, gap.input)``)
    and w the Dense kernel (F, K).
    class_index: an int or one per sample (N,). Not rectified: negative values
    are evidence *against* the class.
    """
    x = as_float_input(model, x, "class_activation_map")
    gap_node, dense = _gap_dense(model)
    features = gap_node.inputs[0]                       # the tensor entering the GAP
    if features.node is None:
        raise ValueError(f"class_activation_map: {gap_node.layer.name!r} reads the model's input directly; "
                         f"CAM needs conv features before the GlobalAvgPool2D")
    A = submodel(model, features.node).predict_on_batch(x)  # (N, h, w, F)
    w = dense.params["kernel"].value                    # (F, K)
    c = _class_indices(class_index, len(x), w.shape[1], "class_activation_map")
    return np.einsum("nijf,fn->nij", A, w[:, c])


def default_cam_layer(model, owner: str = "default_cam_layer") -> str:
    """The last layer with a 4-D output (N, h, w, F): the last spatial features before
    the network flattens or pools them into vectors.

    On CONV-RELU-MAXP-FLATTEN-DENSE this is the MAXP output, like
    pytorch-grad-cam's ``model.features[-1]`` for VGG; pass
    ``layer="<the ReLU>"`` to get the finer map before pooling.
    """
    spatial = [n for n in model.nodes if len(n.output.shape) == 4]
    if not spatial:
        raise ValueError(f"{owner}: model {model.name!r} has no layer with a 4-D output (N, h, w, F)")
    return spatial[-1].layer.name


def _cam_layer_gradients(model, x, class_index, layer, owner):
    """(A, dA): the layer's output (forward hook) and d logit_c / dA (backward hook)."""
    x = as_float_input(model, x, owner)
    layer = default_cam_layer(model, owner) if layer is None else layer
    node = resolve_node(model, layer, owner)
    if len(node.output.shape) != 4:
        raise ValueError(f"{owner}: layer={node.layer.name!r} outputs shape {node.output.shape}; it needs a 4-D "
                         f"(N, h, w, F) output (a conv, ReLU or pooling layer)")
    if node_index(model, node) == len(model.nodes) - 1:
        raise ValueError(f"{owner}: layer={node.layer.name!r} is the output layer")
    c = _class_indices(class_index, len(x), model.output_shape[-1], owner)
    _, _, (A, dA) = _Probe(model, ("class", c), owner, arg="class_index")(x, watch=node.layer)
    return A, dA


def grad_cam(model, x, class_index, layer=None, relu: bool = True) -> np.ndarray:
    """Grad-CAM maps (N, h, w) of ``layer`` (default: :func:`default_cam_layer`) for x (N, H, W, C).

    A = the layer's output (forward hook), dA = d logit_c / dA (backward hook,
    logit = pre-softmax score), alpha = dA averaged over positions (N, F),
    map = ReLU(sum_f alpha_f A_f). class_index: an int or one per sample (N,).
    relu=False returns the map before the ReLU (negative = evidence against).

    On a Flatten -> Dense head each position has its own weights, and their
    average alpha can be negative for most filters: the map is then 0
    everywhere. :func:`hires_cam` does not average and keeps the positions.
    """
    A, dA = _cam_layer_gradients(model, x, class_index, layer, "grad_cam")
    alpha = dA.mean(axis=(1, 2))                        # (N, F): importance of each feature map
    cam = np.einsum("nijf,nf->nij", A, alpha)
    return np.maximum(cam, 0) if relu else cam


def hires_cam(model, x, class_index, layer=None, relu: bool = True) -> np.ndarray:
    """HiResCAM (Draelos & Carin, 2020): Grad-CAM without averaging the gradient, (N, h, w).

    map[i, j] = ReLU( sum_f dA[i, j, f] * A[i, j, f] ), with A, dA as in
    :func:`grad_cam`. When the layer is followed only by linear layers (e.g.
    MaxPool output -> Flatten -> Dense), logit_c = sum_{i,j,f} W[i,j,f,c] A[i,j,f] + b_c
    with dA = W, so the map *before* the ReLU (relu=False) adds up exactly to
    the class score minus its bias: it splits the score over the positions,
    as CAM does for GAP networks (on which it equals CAM / (h w)).
    """
    A, dA = _cam_layer_gradients(model, x, class_index, layer, "hires_cam")
    cam = (A * dA).sum(axis=-1)
    return np.maximum(cam, 0) if relu else cam


def upsample_to_input(maps, input_hw, method: str = "bilinear") -> np.ndarray:
    """Resize maps (N, h, w) (or one (h, w)) to the input's (H, W), to overlay them on the images.

    method: "bilinear" (smooth heatmaps; half-pixel centres, as
    ``torch.nn.functional.interpolate(..., align_corners=False)``) or
    "nearest" (shows the layer's true resolution). Uses
    ``minicnn.viz.imageops.upsample`` (imported here, so that importing
    ``minicnn.inspect`` does not import matplotlib).
    """
    from ..viz.imageops import upsample

    maps = np.asarray(maps, dtype=np.float64)
    H, W = (int(s) for s in input_hw)
    if maps.ndim == 2:
        return upsample(maps, (H, W), method=method)
    if maps.ndim != 3:
        raise ValueError(f"upsample_to_input: maps must be (N, h, w) or (h, w), got shape {maps.shape}")
    return np.stack([upsample(m, (H, W), method=method) for m in maps])
