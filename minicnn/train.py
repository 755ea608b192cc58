"""The training loop: fit, evaluate, predict.

One training step (``train_step``) is the whole of backprop in five lines:
forward, loss, gradient of the loss, backward, optimizer update.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import metrics as metrics_mod
from .callbacks import Callback, History
from .losses import CategoricalCrossentropy, check_label_dtype
from .memory import keep_freed_memory
from .ops.conv import single_threaded_blas


def _fused(model) -> bool:
    """Softmax output + cross-entropy on probabilities: use logits and p - y."""
    out_layer = model.nodes[-1].layer
    return (isinstance(model.loss, CategoricalCrossentropy) and not model.loss.from_logits
            and getattr(out_layer, "outputs_softmax", False))


def loss_and_output(model, x, y, training):
    """Forward + loss. Returns (loss incl. regularization, output scores, dL/d(output or logits), fused)."""
    fused = _fused(model)
    out = model.forward(x, training=training, logits=fused)
    out64 = out if out.dtype == np.float64 else out.astype(np.float64)
    if fused:
        value, grad = model.loss.from_logits_value_and_grad(out64, y)
    else:
        value, grad = model.loss.value_and_grad(out64, y)
    value += model.regularization_loss()
    return value, out, grad.astype(out.dtype, copy=False), fused


def train_step(model, x, y, skip_if=None):
    """One step of gradient descent on a batch. Returns (loss, output scores).

    skip_if(loss) -> bool: called before the update; True skips it (fit skips NaN/inf losses).
    """
    keep_freed_memory()  # reuse last batch's buffers (see minicnn/memory.py)
    # The conv op runs its own worker per core; BLAS threads left spinning by
    # the small GEMMs elsewhere (Dense) were measured to slow those workers
    # by ~20 %, so the whole step uses single-threaded BLAS.
    with single_threaded_blas():
        model.zero_grad()
        loss, out, grad, fused = loss_and_output(model, x, y, training=True)
        if skip_if is not None and skip_if(loss):
            return loss, out
        model.backward(grad, from_logits=fused, need_input_grad=False,
                       output_grad=_probabilities_grad(model, out, y) if fused else None)
        model.optimizer.step(model.trainable_params())
    return loss, out


def _probabilities_grad(model, logits, y):
    """dL/d(softmax output), for backward hooks on the output layer only (else None).

    The fused gradient goes from the loss straight to the logits (p - y) / N,
    but a hook's ``grad_output`` is, by its contract, the gradient w.r.t. the
    layer's output: the probabilities. Computed only when such a hook exists.
    """
    if not model.nodes[-1].layer._backward_hooks:
        return None
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return model.loss.value_and_grad(p, y)[1].astype(logits.dtype, copy=False)  # the unfused gradient


def nonfinite_loss_message(model, loss, epoch, epochs, batch, n_batches, xb, yb) -> str:
    """Why fit stopped at a NaN/inf loss: where, and whether the data or the weights are to blame."""
    causes = []
    bad_x = int(np.size(xb) - np.count_nonzero(np.isfinite(xb)))
    if bad_x:
        rows = np.flatnonzero(~np.isfinite(np.asarray(xb).reshape(len(xb), -1)).all(axis=1))
        causes.append(f"the inputs hold {bad_x} non-finite values (NaN/inf), in {len(rows)} of the batch's "
                      f"{len(xb)} samples: clean the data first (np.isfinite(x).all(axis=tuple(range(1, x.ndim))) "
                      f"marks the good samples)")
    y_arr = np.asarray(yb)
    if y_arr.dtype.kind == "f" and not np.isfinite(y_arr).all():
        causes.append("the labels hold non-finite values (NaN/inf)")
    bad_w = [name for name, p in model.named_parameters().items() if not np.isfinite(p.value).all()]
    if bad_w:
        causes.append(f"the weights hold non-finite values ({', '.join(bad_w)})")
    if not causes:
        causes.append("the inputs, labels and weights are all finite, so the values overflowed inside the "
                      "network: lower the learning rate, or scale the inputs (x / 255 for pixels)")
    return (f"fit: the loss is {loss} at epoch {epoch + 1}/{epochs}, batch {batch + 1}/{n_batches}; "
            + "; ".join(causes) + ". Training stopped before that batch's update: the weights are those after the "
            "last finite step, model.history holds the epochs finished (pass callbacks=[TerminateOnNaN()] to "
            "stop without an error, as Keras does).")


def _check_xy(model, x, y, what):
    x = np.asarray(x)
    y = np.asarray(y)
    check_label_dtype(y, what)
    if len(x) != len(y):
        raise ValueError(f"{what}: x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{what}: no samples")
    if x.dtype.kind in "iub" or x.dtype == np.float64:
        x = x.astype(np.float32)
    return x, y


def _check_against_model(model, x, y, what):
    """Raise a ValueError starting with ``what`` if x does not fit the model's input or y its loss.

    Checked once before training, on the whole arrays, so the message shows
    the real shapes (not one batch's) and says which data is wrong.
    """
    try:
        model._prepare_inputs(x[:1])
        out_shape = model.output_shape
        if all(d is not None for d in out_shape[1:]):
            k = out_shape[-1]
            model.loss.value_and_grad(np.full((len(y),) + tuple(out_shape[1:]), 1.0 / k), y)
    except ValueError as err:
        raise ValueError(f"{what} does not fit the model: {err}") from None


def _check_validation_data(model, validation_data):
    """validation_data: a pair (x_val, y_val) or a loader -> checked arrays (or the loader)."""
    if validation_data is None or _is_loader(validation_data, None):
        return validation_data
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        got = (f"{len(validation_data)} elements" if isinstance(validation_data, (tuple, list))
               else type(validation_data).__name__)
        extra = (" (Keras' third element, sample weights, is not supported)"
                 if isinstance(validation_data, (tuple, list)) and len(validation_data) == 3 else "")
        raise ValueError(f"fit: validation_data must be a pair (x_val, y_val) or a loader, got {got}{extra}")
    x_val, y_val = _check_xy(model, validation_data[0], validation_data[1], "fit: validation_data")
    _check_against_model(model, x_val, y_val, "fit: validation_data (x_val, y_val)")
    return x_val, y_val


def _first_layer(model):
    return model.nodes[0].layer if model.nodes else (model.layers[0] if model.layers else None)


def warn_if_raw_pixels(model, x, dtype) -> bool:
    """Warn when x looks like pixels left at 0..255 entering a Conv2D/Dense; -> whether it warned.

    Glorot-initialised weights expect inputs of order 1: pixels up to 255
    give huge activations and a loss that hardly falls (a loss of ~143 was seen).
    Raw pixels: integers above 1, or non-negative floats above 1.5.
    """
    from .layers import Conv2D, Dense
    first = _first_layer(model)
    if not isinstance(first, (Conv2D, Dense)) or np.size(x) == 0:
        return False
    x = np.asarray(x)
    # fmax/fmin skip NaNs without copying the data set (NaN/inf get fit's NaN message instead)
    top, low = float(np.fmax.reduce(x, axis=None)), float(np.fmin.reduce(x, axis=None))
    if not np.isfinite(top):
        return False
    # Pixels are never negative; standardised inputs (x - mean) / std are, and
    # legitimately exceed 1.5, so they are not taken for raw pixels.
    if top <= (1.0 if np.dtype(dtype).kind in "iub" else 1.5) or low < 0:
        return False
    warnings.warn(f"fit: the inputs go up to {top:g} (dtype {np.dtype(dtype)}): if they are pixels, scale them "
                  f"to 0..1 first, x / 255 (the first layer, {first.name} ({type(first).__name__}), is "
                  f"initialised for inputs of order 1; 0..255 pixels train badly)", UserWarning, stacklevel=4)
    return True


def _batches(n, batch_size, order=None):
    idx = np.arange(n) if order is None else order
    for start in range(0, n, batch_size):
        yield idx[start:start + batch_size]


def _is_loader(x, y):
    """fit(loader) / evaluate(loader): an iterable of (x_batch, y_batch) such as a DataLoader."""
    return (y is None and not isinstance(x, (np.ndarray, tuple, list)) and hasattr(x, "__iter__")
            and hasattr(x, "__len__"))


class _ArrayBatches:
    """Mini-batches of in-memory arrays, reshuffled every epoch from one generator."""

    def __init__(self, x, y, batch_size, shuffle, rng):
        self.x, self.y, self.batch_size, self.shuffle, self.rng = x, y, batch_size, shuffle, rng

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.x)) if self.shuffle else None
        for idx in _batches(len(self.x), self.batch_size, order):
            yield self.x[idx], self.y[idx]


def fit(model, x, y=None, epochs=1, batch_size=32, validation_split=0.0, validation_data=None, shuffle=True,
        augment=None, callbacks=(), verbose=1, seed=None, initial_epoch=0):
    """Train ``model`` on arrays (x, y) or on a loader of (x_batch, y_batch) (then y=None).

    Per epoch: shuffle, then for each batch: augment (training batches
    only), forward, loss, backward, optimizer step; then validate.
    """
    if model.optimizer is None:
        raise RuntimeError(f"{model.name}: call compile(...) before fit")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be a positive int, got {batch_size!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    if augment is not None and not callable(augment):
        raise ValueError(f"fit: augment must be a callable x_batch -> x_batch, got {type(augment).__name__}")
    rng = np.random.default_rng(seed)
    if _is_loader(x, y):
        if validation_split:
            raise ValueError("fit: validation_split needs arrays; with a loader pass validation_data=loader")
        batches = x
    else:
        if y is None:
            raise ValueError("fit: y is missing (give arrays x, y or a loader of (x_batch, y_batch))")
        given_dtype = np.asarray(x).dtype
        x, y = _check_xy(model, x, y, "fit")
        if validation_split and validation_data is None:
            # Keras: the validation samples are the *last* ones, taken before shuffling.
            n_val = int(len(x) * validation_split)
            if n_val == 0:
                raise ValueError(f"fit: validation_split={validation_split} leaves no validation sample of {len(x)}")
            validation_data = (x[-n_val:], y[-n_val:])
            x, y = x[:-n_val], y[:-n_val]
        model._ensure_built_for(x[:1])
        _check_against_model(model, x, y, "fit: the training data (x, y)")
        warn_if_raw_pixels(model, x, given_dtype)
        batches = _ArrayBatches(x, y, batch_size, shuffle, rng)
    validation_data = _check_validation_data(model, validation_data) if model.built else validation_data

    history = History()
    cbs = [history] + list(callbacks)
    for cb in cbs:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be Callback objects, got {type(cb).__name__}")
        cb.set_model(model)
    model.stop_training = False
    model.history = history
    track_acc = "accuracy" in model.metric_names
    for cb in cbs:
        cb.on_train_begin()

    loader_unchecked = _is_loader(x, y)
    for epoch in range(initial_epoch, epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        total_loss = total_correct = seen = 0.0
        bar = tqdm(total=len(batches), desc=f"Epoch {epoch + 1}/{epochs}", disable=verbose != 1,
                   leave=True, file=sys.stdout, dynamic_ncols=True, unit="batch")
        for b, (xb, yb) in enumerate(batches):
            xb = np.asarray(xb)
            if loader_unchecked:  # a loader's data is seen batch by batch: check the first one
                model._ensure_built_for(xb[:1])
                warn_if_raw_pixels(model, xb, xb.dtype)
                validation_data = _check_validation_data(model, validation_data)
                loader_unchecked = False
            if xb.dtype != np.float32:
                xb = xb.astype(np.float32)
            if augment is not None:
                xb = np.asarray(augment(xb), dtype=np.float32)  # training batches only
            # a NaN/inf loss would write NaNs into every weight: never apply its update
            loss, out = train_step(model, xb, yb, skip_if=lambda loss: not np.isfinite(loss))
            if not np.isfinite(loss):
                if any(cb.on_nonfinite_loss(b, loss) for cb in cbs):
                    if model.stop_training:  # TerminateOnNaN: stop quietly, as in Keras
                        break
                    continue
                bar.close()
                raise FloatingPointError(nonfinite_loss_message(model, loss, epoch, epochs, b, len(batches), xb, yb))
            k = len(xb)
            total_loss += loss * k
            seen += k
            logs = {"loss": total_loss / seen}
            if track_acc:
                total_correct += metrics_mod.accuracy(out, yb) * k
                logs["accuracy"] = total_correct / seen
            bar.set_postfix({k_: f"{v:.4f}" for k_, v in logs.items()}, refresh=False)
            bar.update(1)
            for cb in cbs:
                cb.on_batch_end(b, logs)
            if model.stop_training:
                break
        if seen == 0:
            bar.close()
            break
        logs = {"loss": total_loss / seen}
        if track_acc:
            logs["accuracy"] = total_correct / seen
        if validation_data is not None:
            if _is_loader(validation_data, None):
                val = evaluate(model, validation_data)
            else:
                val = evaluate(model, validation_data[0], validation_data[1], batch_size=max(batch_size, 256))
            logs.update({f"val_{k}": v for k, v in val.items()})
        bar.set_postfix({k_: f"{v:.4f}" for k_, v in logs.items()})
        bar.close()
        if verbose == 2:
            print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    for cb in cbs:
        cb.on_train_end()
    return history


def evaluate(model, x, y=None, batch_size=32, verbose=0):
    """Loss and metrics over (x, y) or a loader, in inference mode. -> {"loss": ..., "accuracy": ...}."""
    if model.loss is None:
        raise RuntimeError(f"{model.name}: call compile(...) before evaluate")
    keep_freed_memory()  # reuse freed activation buffers from batch to batch (see minicnn/memory.py)
    if _is_loader(x, y):
        batches = x
    else:
        if y is None:
            raise ValueError("evaluate: y is missing (give arrays x, y or a loader of (x_batch, y_batch))")
        x, y = _check_xy(model, x, y, "evaluate")
        batches = _ArrayBatches(x, y, batch_size, False, None)
    total_loss = total_correct = n = 0.0
    for xb, yb in tqdm(batches, disable=verbose != 1, desc="evaluate", file=sys.stdout):
        # inference: no caches needed, so run the graph without keeping them
        loss, out, _, _ = _loss_no_cache(model, np.asarray(xb, dtype=np.float32), yb)
        total_loss += loss * len(xb)
        n += len(xb)
        if "accuracy" in model.metric_names:
            total_correct += metrics_mod.accuracy(out, yb) * len(xb)
    result = {"loss": total_loss / n}
    if "accuracy" in model.metric_names:
        result["accuracy"] = total_correct / n
    return result


def _loss_no_cache(model, x, y):
    fused = _fused(model)
    model._ensure_built_for(x)
    out = model._runner.forward(model._prepare_inputs(x), training=False, keep_cache=False, logits=fused)[0]
    out64 = out.astype(np.float64)
    value, grad = (model.loss.from_logits_value_and_grad(out64, y) if fused
                   else model.loss.value_and_grad(out64, y))
    return value + model.regularization_loss(), out, grad, fused


def _as_model_dtype(model, x):
    """x as the model's float type: integer pixels and float64 arrays (``x / 255``) become
    float32 for a float32 model (as in Keras); a float64 model (gradient checks) keeps float64."""
    x = np.asarray(x)
    params = [p for layer in model.layers for p in layer.params.values()]
    dtype = params[0].value.dtype if params else np.dtype(np.float32)
    if x.dtype.kind in "iub" or (x.dtype.kind == "f" and x.dtype != dtype):
        x = x.astype(dtype)
    return x


def predict(model, x, batch_size=32, verbose=0):
    """Model outputs for x, computed in batches; no caches kept. -> (N, ...)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"predict: batch_size must be a positive int, got {batch_size!r}")
    x = np.asarray(x)
    model._ensure_built_for(x[:1])
    x = _as_model_dtype(model, x)
    outs = []
    for idx in tqdm(list(_batches(len(x), batch_size)), disable=verbose != 1, desc="predict", file=sys.stdout):
        outs.append(predict_on_batch(model, x[idx]))
    return np.concatenate(outs, axis=0)


def predict_on_batch(model, x):
    """The model's output for one batch x (N, ...), in inference mode, keeping no caches."""
    keep_freed_memory()  # page faults on fresh activation buffers made predict up to 6x slower (memory.py)
    model._ensure_built_for(np.asarray(x)[:1])
    x = _as_model_dtype(model, x)
    return model._runner.forward(model._prepare_inputs(x), training=False, keep_cache=False)[0]
