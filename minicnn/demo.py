"""The main job (`make demo`): train the course's simple CNN and write a report.

    Conv2D(32, 3x3, same) - ReLU - MaxPool(2) - Flatten - Dense(10, softmax)
    Adam, categorical cross-entropy (PW08 exercise 3, "Simple CNN").

Default data: scikit-learn's bundled 8x8 digits (no download). With
``--dataset mnist|fashion_mnist|cifar10`` the official files are used (from
the cache, ../shared/data, or downloaded).

Outputs in ``runs/demo/`` (or ``--out``): model.npz, learning_curves.png,
inspection figures, report.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_EPOCHS = {"digits": 15, "mnist": 3, "fashion_mnist": 3, "cifar10": 5}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="digits", choices=sorted(DEFAULT_EPOCHS))
    parser.add_argument("--epochs", type=int, default=None, help="default: 15 for digits, fewer for larger sets")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/demo", help="output folder")
    parser.add_argument("--root", default=None, help="data folder for mnist/fashion_mnist/cifar10")


def load(dataset: str, root=None):
    """-> (x_train, y_train), (x_test, y_test) as float32 in [0, 1] and integer labels, class names."""
    from . import data
    loaders = {"digits": data.load_digits, "mnist": data.load_mnist,
               "fashion_mnist": data.load_fashion_mnist, "cifar10": data.load_cifar10}
    if dataset == "digits":
        (x_train, y_train), (x_test, y_test) = data.load_digits()
    else:
        folder = data.find_local_data(dataset, root)
        (x_train, y_train), (x_test, y_test) = loaders[dataset](root=folder)
    scale = lambda x: x.astype(np.float32) / 255.0
    return (scale(x_train), y_train), (scale(x_test), y_test), data.class_names(dataset)


def build_model(input_shape, n_classes, seed):
    """The course's simple CNN (PW08 ex. 3)."""
    import minicnn as mc
    return mc.Sequential([
        mc.Input(input_shape),
        mc.Conv2D(32, 3, padding="same"),
        mc.ReLU(),
        mc.MaxPool2D(2),
        mc.Flatten(),
        mc.Dense(n_classes, activation="softmax"),
    ], name="simple_cnn", seed=seed)


def run(args) -> int:
    from . import viz
    from .data import to_categorical

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs or DEFAULT_EPOCHS[args.dataset]
    t0 = time.perf_counter()
    (x_train, y_train), (x_test, y_test), class_names = load(args.dataset, args.root)
    n_classes = len(class_names)
    print(f"{args.dataset}: {len(x_train)} training and {len(x_test)} test images of shape {x_train.shape[1:]}")

    model = build_model(x_train.shape[1:], n_classes, args.seed)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    summary = model.summary()
    history = model.fit(x_train, to_categorical(y_train, n_classes), epochs=epochs, batch_size=args.batch_size,
                        validation_split=0.1, seed=args.seed, verbose=1)
    result = model.evaluate(x_test, to_categorical(y_test, n_classes), batch_size=256, return_dict=True)
    elapsed = time.perf_counter() - t0
    print(f"test accuracy: {result['accuracy']:.4f}  (test loss {result['loss']:.4f}), {elapsed:.1f} s in all")

    model.save(out / "model.npz")
    viz.learning_curves(history, path=out / "learning_curves.png",
                        title=f"{model.name} on {args.dataset}: training (solid) and validation (dashed, last "
                              f"10 % of the training set)")
    figures = [("Learning curves", "learning_curves.png")]
    try:
        from .inspect.report import write_inspection_report
    except ImportError:
        write_inspection_report = None
    if write_inspection_report is not None:
        for title, path in write_inspection_report(model, x_test, y_test, class_names, out):
            figures.append((title, Path(path).name))

    data_note = {"digits": "scikit-learn's bundled 8x8 digits (1,797 images; fixed 80/20 split, seed 0)",
                 "mnist": "MNIST (official files)", "fashion_mnist": "Fashion-MNIST (official files)",
                 "cifar10": "CIFAR-10 (if read from ../shared/data: the JPEG-derived copy, not the original)"}
    h = history.history
    lines = [
        "# minicnn demo: the course's simple CNN", "",
        f"Data: {data_note[args.dataset]}. Pixels scaled to [0, 1]; last 10 % of the training set for validation.",
        f"Training: {epochs} epochs, batch {args.batch_size}, Adam (Keras defaults), categorical cross-entropy, "
        f"seed {args.seed}. Wall time {elapsed:.1f} s (Numba compilation included).", "",
        "```", summary, "```", "",
        "| epoch | loss | accuracy | val_loss | val_accuracy |", "|---|---|---|---|---|",
        *[f"| {i + 1} | {h['loss'][i]:.4f} | {h['accuracy'][i]:.4f} | {h['val_loss'][i]:.4f} | "
          f"{h['val_accuracy'][i]:.4f} |" for i in range(len(h["loss"]))],
        "", f"**Test accuracy: {result['accuracy']:.4f}** (test loss {result['loss']:.4f}, "
            f"{len(x_test)} test images).", "",
        *[f"## {title}\n\n![{title}]({name})\n" for title, name in figures],
    ]
    (out / "report.md").write_text("\n".join(lines))
    print(f"wrote {out / 'model.npz'}, {out / 'report.md'} and {len(figures)} figure(s) in {out}/")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minicnn.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
