"""minicnn against TensorFlow/Keras on the course nets: training step and inference.

    python -m venv ~/.cache/tfbench && ~/.cache/tfbench/bin/pip install tensorflow-cpu
    nice -n 19 .venv/bin/python benchmarks/bench_tensorflow.py --tf-python ~/.cache/tfbench/bin/python
        [--threads 2] [--rounds 7] [--steps 5] [--nets PW09 "tiny VGG" "tiny VGG + BN" Ex08]

The course's own framework is Keras; PyTorch is the peer of ``bench_train_step.py``.
TensorFlow pins its own numpy, so it runs in a separate environment, in a child
process (``tf_worker.py``) that this script drives over a pipe. Both sides get
the same nets (``nets.py``), the same initial kernels and biases (Keras' layout is
minicnn's: no conversion), the same batch of 128 random CIFAR-shaped images.

1. Check: one training step of each on the same batch must give the same loss
   (nets with dropout: the inference outputs must agree instead, the masks differ).
2. Training step: ``train_step`` against Keras' ``train_on_batch`` (forward,
   sparse cross-entropy, backward, Adam), timed back to back: each round runs
   ``--steps`` steps of minicnn then ``--steps`` of Keras (the other process
   sleeps on the pipe meanwhile; each block starts after a 0.2 s pause, so the
   other's spinning threads are idle), the per-step median of each round is kept,
   and the table gives the median over ``--rounds`` rounds and the median of the
   per-round ratios.
3. Inference: ``model.predict`` against ``predict_on_batch`` on 500 images.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Pause before each timed block: TensorFlow's (Eigen's) and OpenBLAS's threads spin for a while after
#: their last call, and the two processes share the cores.
IDLE_S = 0.2


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tf-python", required=True,
                   help="the python of an environment with tensorflow-cpu installed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=5, help="steps of each framework per round")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--predict-batch", type=int, default=500)
    p.add_argument("--nets", nargs="+", default=["PW09", "tiny VGG", "tiny VGG + BN", "Ex08"])
    return p.parse_args(argv)


args = parse()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(HERE))
import nets  # noqa: E402

from minicnn.train import train_step  # noqa: E402


def load():
    return "load %.1f %.1f %.1f" % os.getloadavg()


def keras_spec(model):
    """The minicnn model as tf_worker's layer list, and its kernels/biases in layer order."""
    spec, weights = [], []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "Conv2D":
            spec.append(["conv", layer.filters, layer.padding])
        elif kind == "BatchNorm":
            spec.append(["bn"])
        elif kind == "ReLU":
            spec.append(["relu"])
        elif kind == "MaxPool2D":
            spec.append(["pool"])
        elif kind == "Dropout":
            spec.append(["dropout", layer.rate])
        elif kind == "Flatten":
            spec.append(["flatten"])
        elif kind == "Dense":
            spec.append(["dense", layer.params["kernel"].value.shape[1], layer.activation])
        else:
            raise ValueError(f"bench_tensorflow: no Keras counterpart written for {kind}")
        if kind in ("Conv2D", "Dense"):
            weights += [layer.params["kernel"].value, layer.params["bias"].value]
    return spec, weights


class TensorFlowWorker:
    """tf_worker.py in the TensorFlow environment, one JSON line each way."""

    def __init__(self, python, threads):
        self.proc = subprocess.Popen([python, str(HERE / "tf_worker.py"), "--threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"tf_worker stopped while answering {cmd['cmd']!r} (its stderr is above)")
        return json.loads(line)

    def close(self):
        self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def bench_net(name, worker, tmp):
    model = nets.build(name)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch,) + nets.input_shape(name), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    xp = rng.random((args.predict_batch,) + nets.input_shape(name), dtype=np.float32)
    spec, weights = keras_spec(model)
    np.savez(tmp / "w.npz", **{f"w{i}": w for i, w in enumerate(weights)})
    np.savez(tmp / "batch.npz", x=x, y=y)
    np.save(tmp / "xp.npy", xp)
    info = worker.ask(cmd="build", spec=spec, input_shape=list(nets.input_shape(name)),
                      weights=str(tmp / "w.npz"), batch=str(tmp / "batch.npz"))

    # Correctness before timing: same weights -> same predictions, and (no dropout) the same first loss.
    worker.ask(cmd="predict", n=1, x=str(tmp / "xp.npy"), out=str(tmp / "out.npy"))
    np.testing.assert_allclose(model.predict(xp, batch_size=args.predict_batch), np.load(tmp / "out.npy"),
                               atol=1e-5, err_msg=f"{name}: Keras and minicnn predictions differ")
    ours = train_step(model, x, y)[0]
    theirs = worker.ask(cmd="steps", n=1)["losses"][0]
    if not nets.has_dropout(name):
        assert abs(ours - theirs) < 1e-4 * max(1.0, abs(theirs)), (name, ours, theirs)

    def ours_steps(n):
        seconds = []
        for _ in range(n):
            t = time.perf_counter()
            train_step(model, x, y)
            seconds.append(time.perf_counter() - t)
        return seconds

    def ours_predict(n):
        seconds = []
        for _ in range(n):
            t = time.perf_counter()
            model.predict(xp, batch_size=args.predict_batch)
            seconds.append(time.perf_counter() - t)
        return seconds

    ours_steps(2)  # warm-up of both (Numba cache load, TensorFlow's graph tracing)
    worker.ask(cmd="steps", n=2)
    def settled(run):
        time.sleep(IDLE_S)  # the other framework's threads may still spin after its last call
        return run()

    step_a, step_b, pred_a, pred_b = [], [], [], []
    for _ in range(args.rounds):
        step_a.append(statistics.median(settled(lambda: ours_steps(args.steps))))
        step_b.append(statistics.median(settled(lambda: worker.ask(cmd="steps", n=args.steps)["seconds"])))
        pred_a.append(statistics.median(settled(lambda: ours_predict(2))))
        pred_b.append(statistics.median(settled(lambda: worker.ask(cmd="predict", n=2, x=str(tmp / "xp.npy"),
                                                                   out=str(tmp / "out.npy"))["seconds"])))
    step_ratio = statistics.median(a / b for a, b in zip(step_a, step_b))
    pred_ratio = statistics.median(a / b for a, b in zip(pred_a, pred_b))
    return info, (statistics.median(step_a), statistics.median(step_b), step_ratio,
                  statistics.median(pred_a), statistics.median(pred_b), pred_ratio)


def main():
    import platform
    worker = TensorFlowWorker(args.tf_python, args.threads)
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy "
          f"{np.__version__}; float32, {args.threads} threads, {args.rounds} rounds x {args.steps} steps, "
          f"wall time, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print("\n| net | minicnn step ms | Keras step ms | ratio | minicnn predict ms | Keras predict ms | ratio | load |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.nets:
                info, (a, b, r, pa, pb, pr) = bench_net(name, worker, Path(tmp))
                print(f"| {name} | {1e3 * a:.1f} | {1e3 * b:.1f} | {r:.2f} | {1e3 * pa:.1f} | {1e3 * pb:.1f} | "
                      f"{pr:.2f} | {load()} |")
                sys.stdout.flush()
    finally:
        worker.close()
    print(f"\nTensorFlow {info['tensorflow']}, Keras {info['keras']}, XLA (jit_compile) "
          f"{'on' if info['jit_compile'] else 'off'}; batch {args.batch} for the step, "
          f"{args.predict_batch} for predict.")


if __name__ == "__main__":
    main()
