"""One training run of a lab: build, train epoch by epoch with a checkpoint after
each, evaluate, write ``result.json``. Run again, it resumes where it stopped.

A run is fully described by a :class:`RunSpec` (what to train, on which data,
how, with which seed). Its folder holds::

    config.json       the RunSpec, written first; a different spec under the same
                      folder is refused instead of mixed in
    checkpoint.npz    weights, optimizer state, random generators, history (see checkpoint.py)
    result.json       once finished: the runner's result schema (DESIGN.md, "Labs")

A run may start from another run's trained weights (``RunSpec.init_from``:
fine-tuning, transfer); they are copied layer by layer, by name, into the
freshly built network before its first epoch, and a resumed run takes them
from its own checkpoint instead.

Two training loops: ``loop="fit"`` (Keras' ``fit`` on the arrays, optionally
with an ``ImageAugmenter``) and ``loop="loader"`` (the PyTorch way, see
loader_loop.py: a ``DataLoader`` over a ``Dataset`` with torchvision-style
``transforms``, ``train_on_batch`` per batch). ``trainable`` freezes every
layer not named in it. After every epoch in which the monitored metric is the
best so far, the weights are also written to ``best.npz`` (what Keras'
``ModelCheckpoint(save_best_only=True)`` keeps), so another run can start from
them (``init_from={"run": ..., "weights": "best"}``).

Why epoch by epoch: ``fit`` is called for one epoch at a time with the run's
own shuffling generator, so that stopping after any epoch and continuing from
the checkpoint draws exactly the same batches and augmentations as never
stopping: the final weights are bit-identical.
"""
from __future__ import annotations

import json
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from tqdm.auto import tqdm

import minicnn as mc
from minicnn.data import ImageAugmenter, to_categorical
from minicnn.ops import conv as conv_op
from minicnn.train import evaluate

from . import checkpoint, loader_loop


def run_id(exercise: str, variant: str, seed: int) -> str:
    """A run's folder under the lab's output folder: ``<exercise>[-<variant>]/seed<k>``."""
    return f"{exercise}{'-' + variant if variant else ''}/seed{seed}"


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run's result (and nothing else)."""
    lab: str
    profile: str
    exercise: str
    variant: str
    seed: int
    architecture: str                 # a name in labs.architectures.ARCHITECTURES
    data: str                         # the LabData key: dataset, subset sizes, preprocessing
    epochs: int
    batch_size: int
    validation_split: float = 0.0     # Keras: the last samples, before shuffling
    optimizer: dict = field(default_factory=lambda: {"class_name": "Adam", "learning_rate": 0.001})
    loss: str = "categorical_crossentropy"
    augment: Optional[dict] = None    # ImageAugmenter config (its seed is derived from the run's)
    test_each_epoch: bool = False     # also evaluate the test set after every epoch (test curves)
    init_from: Optional[dict] = None  # {"run": run id in the same lab folder, e.g. "p1-cnn-seed0/seed0",
                                      #  "layers": [names] or None (every layer both networks have),
                                      #  optional "weights": "final" (default) or "best" (its best.npz)}
    loop: str = "fit"                 # "fit" (Keras' fit) or "loader" (DataLoader + train_on_batch)
    transforms: Optional[list] = None  # loop="loader": torchvision-style transform configs (loader_loop.py)
    trainable: Optional[list] = None  # names of the layers to train; every other layer is frozen
    monitor: str = "auto"             # best epoch by: "auto" (val_accuracy, else accuracy) or a history key

    @property
    def run_id(self) -> str:
        return run_id(self.exercise, self.variant, self.seed)

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


def _field_defaults() -> dict:
    """RunSpec's default values as JSON: a run folder written before a field existed holds the default."""
    out = {}
    for f in fields(RunSpec):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return json.loads(json.dumps(out))


def _stream_seed(seed: int, stream: int) -> int:
    """Independent generators per purpose (model init, shuffling, augmentation) from one run seed."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def check_spec(spec: RunSpec) -> None:
    """Refuse settings that cannot work together, before any training."""
    if spec.loop not in LOOPS:
        raise ValueError(f"{spec.run_id}: loop must be one of {LOOPS}, got {spec.loop!r}")
    if spec.transforms is not None and spec.loop != "loader":
        raise ValueError(f"{spec.run_id}: transforms are applied by the Dataset of loop='loader'; with "
                         f"loop='fit' use augment (an ImageAugmenter)")
    if spec.augment is not None and spec.loop != "fit":
        raise ValueError(f"{spec.run_id}: augment (an ImageAugmenter) works with loop='fit'; with "
                         f"loop='loader' give transforms")
    needs = {"test_": ("test_each_epoch=True", spec.test_each_epoch),
             "val_": ("a validation_split > 0", spec.validation_split > 0)}
    for prefix, (what, ok) in needs.items():
        if spec.monitor.startswith(prefix) and not ok:
            raise ValueError(f"{spec.run_id}: monitor={spec.monitor!r} needs {what}")


LOOPS = ("fit", "loader")


def build_model(spec: RunSpec, input_shape) -> mc.Model:
    """The compiled network of ``spec``, its layers frozen except those named in ``spec.trainable``."""
    from labs.architectures import build
    model = build(spec.architecture, input_shape=input_shape, seed=spec.seed)
    if spec.trainable is not None:
        names = [layer.name for layer in model.layers]
        unknown = [n for n in spec.trainable if n not in names]
        if unknown:
            raise ValueError(f"{spec.run_id}: trainable names layer(s) {unknown} that {spec.architecture} does "
                             f"not have; its layers: {names}")
        for layer in model.layers:
            layer.trainable = layer.name in spec.trainable
    model.compile(optimizer=mc.optim.get(dict(spec.optimizer)), loss=spec.loss, metrics=["accuracy"])
    return model


def copy_weights(source: mc.Model, target: mc.Model, layers=None, owner: str = "init_from") -> list:
    """Copy the parameters of the layers named ``layers`` (None: every layer with parameters that
    both models have) from ``source`` into ``target``, by layer name; -> the names copied.

    Names, not positions: the target may have another head (e.g. global average pooling instead
    of Flatten-Dense) and still share its first layers with the source.
    """
    have = {l.name: l for l in source.layers if l.params}
    want = {l.name: l for l in target.layers if l.params}
    names = [n for n in want if n in have] if layers is None else list(layers)
    if not names:
        raise ValueError(f"{owner}: {source.name!r} and {target.name!r} have no layer with parameters in common "
                         f"(source layers {sorted(have)}, target layers {sorted(want)})")
    for name in names:
        if name not in have or name not in want:
            where = "the source " + repr(source.name) if name not in have else "the target " + repr(target.name)
            raise ValueError(f"{owner}: no layer {name!r} with parameters in {where}; source layers "
                             f"{sorted(have)}, target layers {sorted(want)}")
        src, dst = have[name].params, want[name].params
        if set(src) != set(dst) or any(src[k].value.shape != dst[k].value.shape for k in dst):
            shapes = lambda ps: {k: tuple(v.value.shape) for k, v in ps.items()}  # noqa: E731
            raise ValueError(f"{owner}: layer {name!r} has parameters {shapes(src)} in the source "
                             f"{source.name!r} but {shapes(dst)} in the target {target.name!r}")
        for k, p in dst.items():
            p.value = np.array(src[k].value, dtype=p.value.dtype, copy=True)
    return names


def _targets(spec: RunSpec, y: np.ndarray, n_classes: int) -> np.ndarray:
    return to_categorical(y, n_classes) if spec.loss == "categorical_crossentropy" else y


class _Bar(mc.Callback):
    """Advances the run's one progress bar after every batch."""

    def __init__(self, bar):
        self.bar = bar

    def on_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)


def best_epoch(history: dict, monitor: str = "auto") -> int:
    """1-based epoch of the best ``monitor`` value: highest for accuracies, lowest for losses (the first
    such epoch on ties). "auto": the validation accuracy, or the training accuracy without validation."""
    key = monitor if monitor != "auto" else ("val_accuracy" if history.get("val_accuracy") else "accuracy")
    if not history.get(key):
        raise ValueError(f"best_epoch: {key!r} is not in the history; it holds {sorted(history)}")
    values = history[key]
    return int(np.argmin(values) if "loss" in key else np.argmax(values)) + 1


class TrainingRun:
    """A run folder: config, checkpoint, result. ``run()`` trains or resumes; ``result`` reads."""

    def __init__(self, spec: RunSpec, folder: Path):
        self.spec = spec
        self.folder = Path(folder)

    @property
    def result_path(self) -> Path:
        return self.folder / "result.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.folder / "checkpoint.npz"

    @property
    def best_path(self) -> Path:
        return self.folder / "best.npz"

    @property
    def finished(self) -> bool:
        return self.result_path.is_file()

    def result(self) -> dict:
        return json.loads(self.result_path.read_text())

    def check_config(self) -> None:
        """Refuse a folder that holds a run of another configuration."""
        path = self.folder / "config.json"
        if not path.is_file():
            return
        stored = {**_field_defaults(), **json.loads(path.read_text())}  # fields added since: their default
        wanted = self.spec.to_json()
        if stored != wanted:
            diff = {k: (stored.get(k), wanted.get(k)) for k in sorted(set(stored) | set(wanted))
                    if stored.get(k) != wanted.get(k)}
            detail = "; ".join(f"{k}: stored {a!r}, requested {b!r}" for k, (a, b) in diff.items())
            raise RuntimeError(f"{self.folder} holds a run with another configuration ({detail}). "
                               f"Use --restart to discard the stored runs, or another --out folder.")

    def source_run(self) -> "TrainingRun":
        """The finished run whose weights ``spec.init_from`` starts from (same lab folder)."""
        run_id = self.spec.init_from["run"]
        folder = self.folder.parents[1] / run_id     # <out>/<exercise>/seed<k>: runs are siblings
        config = folder / "config.json"
        if not (folder / "result.json").is_file() or not config.is_file():
            raise RuntimeError(f"{self.spec.run_id} starts from run {run_id!r}, which is not finished in "
                               f"{folder.parents[1]}: train that run first")
        return TrainingRun(RunSpec(**json.loads(config.read_text())), folder)

    def initial_model(self, data) -> mc.Model:
        """The compiled network before its first epoch: built from the run's seed, then (with
        ``init_from``) the chosen layers' weights copied from the source run's final checkpoint."""
        model = build_model(self.spec, data.x_train.shape[1:])
        if self.spec.init_from is not None:
            source_run = self.source_run()
            best = self.spec.init_from.get("weights", "final") == "best"
            source = source_run.best_model(data) if best else source_run.model(data)
            copy_weights(source, model, self.spec.init_from.get("layers"),
                         owner=f"{self.spec.run_id}: init_from {self.spec.init_from['run']!r}")
        return model

    def model(self, data) -> mc.Model:
        """The trained model, rebuilt from the final checkpoint (for figures after training)."""
        model = build_model(self.spec, data.x_train.shape[1:])
        checkpoint.load(self.checkpoint_path, model, {})
        return model

    def best_model(self, data) -> mc.Model:
        """The network with the weights of its best epoch (``best.npz``, by ``spec.monitor``)."""
        if not self.best_path.is_file():
            raise RuntimeError(f"{self.folder} has no best.npz (a run trained before the runner kept its best "
                               f"epoch's weights): retrain it with --restart")
        model = build_model(self.spec, data.x_train.shape[1:])
        epoch = checkpoint.load_weights(self.best_path, model)
        if self.finished and epoch != self.result()["best_epoch"]:
            raise RuntimeError(f"{self.best_path} holds epoch {epoch}, but the run's best epoch is "
                               f"{self.result()['best_epoch']} (resumed by an older runner?): retrain with --restart")
        return model

    def run(self, data, progress: bool = True, on_epoch: Optional[Callable[[int], None]] = None) -> dict:
        """Train (or resume, or skip when finished); -> the result dict."""
        self.check_config()
        if self.finished:
            return self.result()
        spec = self.spec
        check_spec(spec)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.tmp"):  # a process killed while writing a checkpoint
            stale.unlink()
        checkpoint.write_json(self.folder / "config.json", spec.to_json())

        x, y = data.x_train, data.y_train
        n_val = int(len(x) * spec.validation_split)
        x_fit, y_fit = (x[:-n_val], y[:-n_val]) if n_val else (x, y)
        y_fit_t = _targets(spec, y_fit, data.n_classes)
        validation = (x[-n_val:], _targets(spec, y[-n_val:], data.n_classes)) if n_val else None
        y_test_t = _targets(spec, data.y_test, data.n_classes)

        # a resumed run's weights come from its checkpoint below, not from init_from again
        model = self.initial_model(data) if not self.checkpoint_path.is_file() else build_model(spec, x.shape[1:])
        fit_rng = np.random.default_rng(_stream_seed(spec.seed, 1))
        augmenter = (ImageAugmenter(**{**spec.augment, "seed": _stream_seed(spec.seed, 2)})
                     if spec.augment is not None else None)
        generators = checkpoint.generators_of(model, fit_rng, augmenter)
        loader = None
        if spec.loop == "loader":
            loader = loader_loop.build_loader(x_fit, y_fit_t, spec.batch_size, spec.transforms,
                                              shuffle_seed=_stream_seed(spec.seed, 1),
                                              transform_seed=_stream_seed(spec.seed, 3))
            generators.update(loader_loop.generators(loader))
        history, done, wall = {}, 0, 0.0
        if self.checkpoint_path.is_file():
            meta = checkpoint.load(self.checkpoint_path, model, generators)
            history, done, wall = meta["history"], meta["epoch"], meta["wall_s"]

        batches = -(-len(x_fit) // spec.batch_size)
        bar = tqdm(total=spec.epochs * batches, initial=done * batches, disable=not progress, unit="batch",
                   desc=f"{spec.exercise}{' ' + spec.variant if spec.variant else ''} seed {spec.seed}",
                   dynamic_ncols=True, leave=True)
        try:
            for epoch in range(done, spec.epochs):
                start = time.perf_counter()
                if loader is not None:
                    logs = loader_loop.train_one_epoch(model, loader, on_batch=_Bar(bar).on_batch_end)
                    if validation is not None:
                        val = evaluate(model, *validation, batch_size=500)
                        logs.update({"val_loss": val["loss"], "val_accuracy": val["accuracy"]})
                else:
                    h = model.fit(x_fit, y_fit_t, epochs=epoch + 1, initial_epoch=epoch,
                                  batch_size=spec.batch_size, validation_data=validation, shuffle=True,
                                  augment=augmenter, seed=fit_rng, verbose=0, callbacks=[_Bar(bar)])
                    logs = {k: float(v[-1]) for k, v in h.history.items()}
                if spec.test_each_epoch:
                    test = evaluate(model, data.x_test, y_test_t, batch_size=500)
                    logs.update({"test_loss": test["loss"], "test_accuracy": test["accuracy"]})
                for k, v in logs.items():
                    history.setdefault(k, []).append(v)
                wall += time.perf_counter() - start
                if best_epoch(history, spec.monitor) == epoch + 1:   # before the checkpoint: a run killed
                    checkpoint.save_weights(self.best_path, model, epoch + 1)  # in between redoes the epoch
                checkpoint.save(self.checkpoint_path, model, generators, epoch + 1, history, wall)
                if on_epoch is not None:
                    on_epoch(epoch + 1)
        finally:
            bar.close()

        start = time.perf_counter()
        train = evaluate(model, x_fit, y_fit_t, batch_size=500)
        test = evaluate(model, data.x_test, y_test_t, batch_size=500)
        wall += time.perf_counter() - start
        best = best_epoch(history, spec.monitor)
        result = {
            "exercise": spec.exercise, "variant": spec.variant, "seed": spec.seed, "epochs": spec.epochs,
            "batch_size": spec.batch_size, "params": model.count_params(),
            "trainable_params": int(sum(p.value.size for p in model.trainable_params())), "history": history,
            "train_accuracy": train["accuracy"], "train_loss": train["loss"],
            "test_accuracy": test["accuracy"], "test_loss": test["loss"], "best_epoch": best,
            "best_test_accuracy": (history["test_accuracy"][best - 1] if "test_accuracy" in history else None),
            "best_val_accuracy": (history["val_accuracy"][best - 1] if "val_accuracy" in history else None),
            "wall_s": wall, "time_per_epoch_s": wall / max(1, spec.epochs),
            "architecture": spec.architecture, "profile": spec.profile,
            # which Winograd variant computed the 3x3 convolutions at the end of the run (the numbers differ
            # in the last float32 bits; runs trained before this field was written used F(2x2, 3x3))
            "conv_winograd_tile": conv_op.WINOGRAD_TILE,
        }
        if spec.init_from is not None:
            result["init_from"] = spec.init_from
        checkpoint.write_json(self.result_path, result)
        return result
