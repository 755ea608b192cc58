"""The TensorFlow/Keras side of ``bench_tensorflow.py``; runs in its own environment.

    (started by bench_tensorflow.py) TF_PYTHON benchmarks/tf_worker.py --threads 2

TensorFlow and minicnn live in separate virtual environments (TensorFlow pins
its own numpy and would slow or break minicnn's), so this file imports neither
minicnn nor anything of this repository: only numpy and tensorflow. It reads
one JSON command per line on stdin and answers one JSON line on stdout:

- ``{"cmd": "build", "spec": [...], "input_shape": [H, W, C], "weights": "file.npz",
  "batch": "file.npz"}``: builds the Keras model of ``spec`` (the layer list of
  ``bench_tensorflow.keras_spec``), sets the kernels and biases from the .npz
  (``w0, w1, ...`` in layer order, Keras' layout: the same as minicnn's),
  compiles it as the course does (Adam 1e-3, eps 1e-7; sparse categorical
  cross-entropy) and keeps the training batch -> versions and whether Keras
  chose XLA;
- ``{"cmd": "steps", "n": k}``: k ``train_on_batch`` calls on that batch
  -> ``{"seconds": [per call], "losses": [...]}``;
- ``{"cmd": "predict", "n": k, "x": "file.npy"}``: ``predict_on_batch`` k times
  -> ``{"seconds": [...], "out": "file.npy"}`` (the last output, for the check);
- ``{"cmd": "quit"}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no oneDNN banner on stderr

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
keras = tf.keras


def build(spec, input_shape):
    layers = [keras.Input(tuple(input_shape))]
    for item in spec:
        kind = item[0]
        if kind == "conv":
            layers.append(keras.layers.Conv2D(item[1], 3, padding=item[2]))
        elif kind == "bn":
            layers.append(keras.layers.BatchNormalization())  # epsilon 1e-3, momentum 0.99: minicnn's too
        elif kind == "relu":
            layers.append(keras.layers.ReLU())
        elif kind == "pool":
            layers.append(keras.layers.MaxPooling2D(2))
        elif kind == "dropout":
            layers.append(keras.layers.Dropout(item[1]))
        elif kind == "flatten":
            layers.append(keras.layers.Flatten())
        elif kind == "dense":
            layers.append(keras.layers.Dense(item[1], activation=item[2]))
        else:
            raise ValueError(f"tf_worker: unknown layer kind {kind!r}")
    return keras.Sequential(layers)


def main():
    model = x = y = None
    out = sys.stdout
    sys.stdout = sys.stderr  # Keras' prints must not mix with the answers
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "build":
            model = build(cmd["spec"], cmd["input_shape"])
            weights = np.load(cmd["weights"])
            with_weights = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D,
                                                                                  keras.layers.Dense))]
            for k, layer in enumerate(with_weights):
                layer.set_weights([weights[f"w{2 * k}"], weights[f"w{2 * k + 1}"]])
            model.compile(keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7),
                          "sparse_categorical_crossentropy")
            batch = np.load(cmd["batch"])
            x, y = batch["x"], batch["y"]
            answer = {"tensorflow": tf.__version__, "keras": keras.__version__,
                      "jit_compile": bool(getattr(model, "jit_compile", False))}
        elif cmd["cmd"] == "steps":
            seconds, losses = [], []
            for _ in range(cmd["n"]):
                t = time.perf_counter()
                losses.append(float(model.train_on_batch(x, y)))
                seconds.append(time.perf_counter() - t)
            answer = {"seconds": seconds, "losses": losses}
        elif cmd["cmd"] == "predict":
            xp = np.load(cmd["x"])
            seconds = []
            for _ in range(cmd["n"]):
                t = time.perf_counter()
                probs = model.predict_on_batch(xp)
                seconds.append(time.perf_counter() - t)
            np.save(cmd["out"], np.asarray(probs))
            answer = {"seconds": seconds}
        else:
            raise ValueError(f"tf_worker: unknown command {cmd['cmd']!r}")
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
