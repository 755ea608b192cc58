# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tiny VGG on CIFAR-10
#
# The course document is `../shared/seeds/002_*.txt` ("Convolutional Neural
# Network on CIFAR-10 dataset"). This script answers its questions 1–15 in
# order and writes `labs/reports/tiny_vgg/README.md`. Run it with
# `minicnn lab run tiny_vgg --profile quick|report|full`.

# %%
import time
from dataclasses import replace

import numpy as np

from labs._runner import fmt_mean_std, start
from labs.architectures import build
from labs.catalog import TINY_VGG_VARIANTS
from minicnn import inspect, viz
from minicnn.data import Standardizer
from minicnn.train import train_step

lab = start("tiny_vgg")
S = lab.settings
raw = lab.data("cifar10")

# %% [markdown]
# ## 1. Loading and observing data (Q1–Q3)

# %%
n_val = int(len(raw.x_train) * S["validation_split"])
lab.md("## 1. Loading and observing the data (Q1–Q3)\n\n"
       f"**Q1.** Source: {raw.source}. Training set: {len(raw.x_train):,} images, test set: {len(raw.x_test):,} "
       f"images, each {raw.x_train.shape[1]}×{raw.x_train.shape[2]} pixels with {raw.x_train.shape[3]} colour "
       f"channels (uint8 0–255 as loaded), {raw.n_classes} classes: {', '.join(raw.class_names)}. "
       f"Per class in the training set: {', '.join(str(c) for c in np.bincount(raw.y_train, minlength=10))}.")
examples = np.concatenate([np.nonzero(raw.y_train == k)[0][:6] for k in range(raw.n_classes)])
lab.figure(viz.image_grid(raw.x_train[examples], raw.y_train[examples], class_names=raw.class_names, ncols=6,
                          title="CIFAR-10: six training images of every class"),
           "examples.png", "**Q2.** Six training images of each class (Figure 1 of the document).")

# The validation images are the last 30 % (Keras' validation_split takes them before shuffling):
# the standardisation statistics come from the other 70 % only, so nothing of the validation or
# test images leaks into training.
scaler = Standardizer().fit(raw.x_train[:len(raw.x_train) - n_val])
data = replace(raw, x_train=scaler.transform(raw.x_train).astype(np.float32),
               x_test=scaler.transform(raw.x_test).astype(np.float32), key=raw.key + ":standardized(train part)")
lab.md("**Q3.** Preprocessing, in order: (1) pixels scaled from 0–255 to [0, 1]; (2) per-channel "
       "standardisation `(x − mean) / std` with the mean and standard deviation of the training part only "
       f"(the first {len(raw.x_train) - n_val:,} images; the last {n_val:,} are the validation split), "
       f"mean = {np.round(scaler.mean_, 3).tolist()}, std = {np.round(scaler.std_, 3).tolist()} (on the [0, 1] "
       "scale), applied unchanged to validation and test images; (3) labels one-hot encoded for the "
       "categorical cross-entropy.")

# %% [markdown]
# ## 2. The network (Q4–Q5)

# %%
TRAIN = dict(data=data, epochs=S["epochs"], batch_size=S["batch_size"], validation_split=S["validation_split"],
             test_each_epoch=True)
groups = {}
groups["q6-original"] = lab.train("q6-original", "tiny_vgg", **TRAIN)
original = groups["q6-original"].model()
lab.md("## 2. The network (Q4–Q5)\n\n**Q4.** Our copy of the document lost Figure 2, so we use the classic "
       "tiny VGG: two blocks of [Conv2D 3×3 (same padding) + ReLU] × 2 followed by MaxPool 2×2, with 32 then "
       "64 filters, then Flatten, Dense(128, ReLU) and Dense(10, softmax) — 591,274 parameters as Keras counts "
       "them (`tiny_vgg` in `labs/architectures.py`):\n\n```\n" + original.summary(print_fn=None) + "\n```\n\n"
       "**Q5.** Compiled with Adam (Keras' defaults: learning rate 1e-3, β1 = 0.9, β2 = 0.999, ε = 1e-7) and the "
       "categorical cross-entropy, accuracy as metric.")

# %% [markdown]
# ## 3. Training and evaluation (Q6–Q9)

# %%
g = groups["q6-original"]
first = g.results[0]
lab.md(f"## 3. Training and evaluation (Q6–Q9)\n\n**Q6.** {S['epochs']} epochs (the document: 100), batch "
       f"{S['batch_size']}, {S['validation_split']:.0%} of the training images for validation, "
       f"{len(g.results)} seeds.\n\n"
       f"**Q7.** Test accuracy (seed {first['seed']}): **{first['test_accuracy']:.1%}** (test loss "
       f"{first['test_loss']:.3f}); over the {len(g.results)} seeds: {fmt_mean_std(g.values('test_accuracy'))}.")
lab.answer("q7-test-accuracy-seed0", first["test_accuracy"])
lab.figure(viz.learning_curves({"training": {"loss": first["history"]["loss"],
                                             "accuracy": first["history"]["accuracy"]},
                                "validation": {"loss": first["history"]["val_loss"],
                                               "accuracy": first["history"]["val_accuracy"]},
                                "test": {"loss": first["history"]["test_loss"],
                                         "accuracy": first["history"]["test_accuracy"]}},
                               split="train", title=f"Tiny VGG, seed {first['seed']}: loss and accuracy per epoch"),
           "q8_curves.png", "**Q8.** Loss and accuracy per epoch on the training, validation and test sets (seed "
           f"{first['seed']}; the training values are the running means over each epoch's batches).")
h = first["history"]
lab.md(f"The training loss falls all along ({h['loss'][0]:.2f} → {h['loss'][-1]:.2f}) while the validation loss "
       f"is lowest at epoch {int(np.argmin(h['val_loss'])) + 1} ({min(h['val_loss']):.3f}) and ends at "
       f"{h['val_loss'][-1]:.3f}: "
       + ("the network over-fits after that epoch — its training accuracy keeps rising "
          f"({h['accuracy'][-1]:.1%} in the last epoch) while the validation and test accuracies stay near "
          f"{h['val_accuracy'][-1]:.1%} and {h['test_accuracy'][-1]:.1%}."
          if int(np.argmin(h['val_loss'])) + 1 < len(h['val_loss']) else
          "the validation loss was still falling at the last epoch, so more epochs would still help."))


def epoch_seconds(architecture, repeats=5):
    """Seconds of training steps in one epoch of ``architecture``, timed apart on this machine.

    The runs' own wall times are not comparable between networks: runs trained side by side
    (``--jobs``) or alone, in one sitting or several, while other programs ran or not. So one
    training step at the lab's batch size is timed here (median of ``repeats``, after a warm-up)
    and multiplied by the steps of an epoch (validation and test passes not included).
    """
    model = build(architecture, seed=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = data.x_train[:S["batch_size"]]
    y = np.eye(10, dtype=np.float32)[data.y_train[:S["batch_size"]]]
    train_step(model, x, y)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        train_step(model, x, y)
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * -(-(len(data.x_train) - n_val) // S["batch_size"])


ARCH = dict(TINY_VGG_VARIANTS)
epoch_s = {}


def table(names):
    """Parameters, test accuracy, best validation accuracy and its epoch, time per epoch, over seeds."""
    rows = ["| network | parameters | test accuracy | best validation accuracy | epoch of the best | "
            "training time per epoch |", "|---|---|---|---|---|---|"]
    for name in names:
        grp = groups[name]
        epochs = grp.values("best_epoch")
        if name not in epoch_s:
            epoch_s[name] = epoch_seconds(ARCH[name])
        rows.append(f"| {name} | {grp.results[0]['params']:,} | {fmt_mean_std(grp.values('test_accuracy'))} | "
                    f"{fmt_mean_std(grp.values('best_val_accuracy'))} | {np.mean(epochs):.1f} ({min(epochs)}–"
                    f"{max(epochs)}) | {epoch_s[name]:.{0 if epoch_s[name] >= 10 else 1}f} s |")
    return ("\n".join(rows) + "\n\nTest accuracy at the last epoch; mean ± sample standard deviation over the "
            "seeds. Epoch of the best: mean (min–max) of the epoch with the highest validation accuracy. Training "
            f"time per epoch: one training step at batch {S['batch_size']} timed apart on this machine, times the "
            f"{-(-(len(data.x_train) - n_val) // S['batch_size'])} steps of an epoch (the runs' own wall times mix "
            "runs trained alone and side by side).")


def band_figure(names, title, filename, caption):
    runs = {name: groups[name].histories() for name in names}
    lab.figure(viz.learning_curves(runs, metrics=("loss", "accuracy"), title=title), filename, caption)


accs = g.values("test_accuracy")
lab.md(f"**Q9.** The whole process repeated with {len(accs)} seeds (weights, shuffling): test accuracy "
       f"**{fmt_mean_std(accs)}** (mean ± sample standard deviation), individual runs "
       f"{', '.join(f'{a:.1%}' for a in accs)}.\n\n" + table(["q6-original"]))
band_figure(["q6-original"], "Tiny VGG over seeds: mean (line) ± 1 std (band)", "q9_seed_bands.png",
            f"**Q9.** Loss and accuracy per epoch, mean over {len(accs)} seeds with a ±1 standard deviation band; "
            "training solid, validation dashed.")
spread = (max(accs) - min(accs)) * 100 if len(accs) > 1 else 0.0
best_epochs = g.values("best_epoch")
lab.md(f"The runs differ only by their random initialisation and batch order. Their final test accuracies span "
       f"{spread:.1f} points; their best validation accuracies {fmt_mean_std(g.values('best_val_accuracy'))}, "
       f"reached at epochs {', '.join(str(e) for e in best_epochs)}. "
       + ("A spread of under 2 points: training is robust to the initialisation, one run is a fair estimate of "
          "the network's accuracy to about a point, and differences between networks smaller than about two "
          "standard deviations are not meaningful."
          if spread < 2 else "A spread this large means a single run can mislead when comparing networks: only "
          "differences of several standard deviations are meaningful.")
       + (f" Validation accuracy peaks early (epoch {max(best_epochs)} at the latest of {S['epochs']}) and only "
          "over-fitting follows, so the document's 100 epochs would not change these conclusions; the final "
          "test accuracy is lower than at the best epoch by "
          f"{np.mean(np.subtract(g.values('best_test_accuracy'), accs)) * 100:.1f} points on average."
          if max(best_epochs) <= S["epochs"] // 2 else
          f" Validation accuracy was still rising late (best epoch {max(best_epochs)} of {S['epochs']}): more "
          "epochs could change the numbers."))
lab.answer("q9-test-accuracy-mean", float(np.mean(accs)))
if len(accs) > 1:
    lab.answer("q9-test-accuracy-std", float(np.std(accs, ddof=1)))

# %% [markdown]
# ## 4. Visualisation (Q10–Q12)

# %%
IMAGE, FILTER = 7, 9   # one test image; the 10th filter (index 9)
spatial = [l.name for l in original.layers if type(l).__name__ in ("Conv2D", "ReLU", "MaxPool2D")]
maps = inspect.activations(original, data.x_test[IMAGE][None], layers=spatial)
fig = viz.all_activation_maps(maps, filter_index=FILTER,
                              title=f"Filter {FILTER + 1} (index {FILTER}) of every conv, ReLU and pooling output, "
                                    f"test image {IMAGE} ({raw.class_names[raw.y_test[IMAGE]]})")
lab.md("## 4. Visualisation (Q10–Q12)")
lab.figure(fig, "q10_filter10_maps.png", f"**Q10.** The 10th feature map of every convolution, activation and "
           f"pooling output for test image {IMAGE} ({raw.class_names[raw.y_test[IMAGE]]}). Flatten and the dense "
           "layers are left out: they are not images. Channel 10 of different layers is not the same filter: "
           "each layer has its own.")
facts = []
for name, m in maps.items():
    plane = m[0, :, :, FILTER]
    facts.append(f"{name} {plane.shape[0]}×{plane.shape[1]}, {np.mean(plane == 0):.0%} zeros, max {plane.max():.2f}")
lab.md("Measured on these maps (size, share of exact zeros, largest value): " + "; ".join(facts) + ". "
       "Each ReLU zeroes the negative responses, each pooling halves the resolution and keeps the strongest "
       "response of each 2×2 window, so the deeper maps are coarse and sparse: they mark where the filter's "
       "pattern occurs more than what the image looks like.")
kernel = original.get_layer("block1_conv1").params["kernel"].value
lab.figure(viz.filter_grid(kernel, mode="per_channel", ncols=16,
                           title="First-layer filters: 32 filters (columns) × 3 input channels (rows R, G, B)"),
           "q11_first_layer_filters.png", "**Q11.** All the weights of the first convolution, each 3×3 plane "
           "scaled to its own range (dark: lowest, bright: highest weight).")
# Two measured properties per filter: does a linear ramp (an edge of one orientation) explain its
# colour-summed 3x3 plane, and do its R, G, B planes share one pattern (a brightness filter) or
# oppose each other (colour opponency)?
uv = np.stack(np.meshgrid(np.arange(3.0), np.arange(3.0), indexing="ij"), -1).reshape(9, 2)
design = np.column_stack([uv, np.ones(9)])
ramp_r2, channel_corr = [], []
for f in range(kernel.shape[3]):
    plane = kernel[:, :, :, f].sum(axis=2).reshape(9)
    fit = design @ np.linalg.lstsq(design, plane, rcond=None)[0]
    ramp_r2.append(1 - np.sum((plane - fit) ** 2) / max(np.sum((plane - plane.mean()) ** 2), 1e-12))
    c = np.corrcoef(kernel[:, :, :, f].reshape(9, 3).T)
    channel_corr.append(np.mean(c[np.triu_indices(3, 1)]))
ramp_r2, channel_corr = np.array(ramp_r2), np.array(channel_corr)
lab.md(f"At 3×3 a filter can only be a small edge, blob or colour detector. Measured on these {kernel.shape[3]} "
       f"filters: a linear ramp (an edge of one orientation) explains at least 70 % of the colour-summed weights "
       f"of {int(np.sum(ramp_r2 >= 0.7))} of them; {int(np.sum(channel_corr >= 0.5))} have the same pattern "
       f"on R, G and B (mean correlation between channels ≥ 0.5: brightness detectors) and "
       f"{int(np.sum(channel_corr <= -0.2))} have channels of opposite patterns (correlation ≤ −0.2: colour "
       "opponency); the rest mix these.")
lab.answer("q11-edge-like-filters", int(np.sum(ramp_r2 >= 0.7)))
lab.answer("q11-same-pattern-on-rgb-filters", int(np.sum(channel_corr >= 0.5)))

try:
    from minicnn.applications import ResNet50
    resnet = ResNet50(weights="imagenet", include_top=False)
    first_conv = resnet.get_layer("conv1_conv").params["kernel"].value
    lab.figure(viz.rgb_filters(first_conv, title="ResNet50 (ImageNet) first layer: 64 filters 7×7×3 as RGB images"),
               "q12_resnet50_filters.png", "**Q12.** The 64 first-layer filters of ResNet50 pre-trained on "
               "ImageNet (Keras' weights), each shown as one RGB image normalised as a whole.")
    lab.md("At 7×7 and trained on ImageNet the filters are readable: oriented edges at several angles and "
           "frequencies, colour blobs and colour-opponent edges — Gabor-like detectors, as in the first layer of "
           "most image networks.")
    lab.answer("q12-resnet50-filters", "shown")
except (ImportError, OSError, ValueError, RuntimeError) as err:  # no h5py, no file, no network: say so
    lab.md("**Q12.** The ResNet50 weights could not be loaded here. With network access, "
           "`minicnn.applications.ResNet50(weights=\"imagenet\")` downloads Keras' weight file into the minicnn "
           "cache; offline, put the file where the message below says and run `minicnn lab report tiny_vgg "
           f"--profile {lab.profile}` again (no training is repeated).\n\n```\n{type(err).__name__}: {err}\n```")
    lab.answer("q12-resnet50-filters", "weights not available")

# %% [markdown]
# ## 5. Improving the model (Q13–Q15)

# %%
for exercise, arch in TINY_VGG_VARIANTS[1:]:
    groups[exercise] = lab.train(exercise, arch, **TRAIN)
names = [e for e, _ in TINY_VGG_VARIANTS]
tiles = {}  # Winograd tile size -> runs (result.json has it since F(4x4, 3x3) became the default)
for name in names:
    for r in groups[name].results:
        tiles.setdefault(r.get("conv_winograd_tile", 2), []).append(f"{name} seed {r['seed']}")
method = ""
if len(tiles) > 1:
    method = ("\n\nThe 3x3 convolutions of " + "; of ".join(
        f"{', '.join(runs)} were computed by Winograd's F({m}x{m}, 3x3)" for m, runs in sorted(tiles.items()))
        + ": minicnn's default changed while this lab was training. Both compute the same convolution; their "
        "float32 results differ by a few millionths of the outputs' scale, far below the differences between seeds.")
lab.md("## 5. Improving the model (Q13–Q15)\n\nEach variant trained like the original, with the same seeds "
       "(each seed gives every network the same batch order).\n\n" + table(names) + method)
band_figure(names, "The four networks: mean ± 1 std over seeds", "q13_q15_variants.png",
            "Loss and accuracy per epoch for the four networks (mean over seeds, ±1 std band; training solid, "
            "validation dashed).")
base = np.mean(groups["q6-original"].values("test_accuracy"))
base_std = np.std(groups["q6-original"].values("test_accuracy"), ddof=1) if len(accs) > 1 else 0.0


def mean_curve(name, key):
    """The mean over seeds of one history curve (e.g. "val_accuracy"), per epoch."""
    return np.mean([r["history"][key] for r in groups[name].results], axis=0)


def verdict(name):
    """The variant against the original: difference of mean test accuracy, spreads, and whether it counts."""
    vals = groups[name].values("test_accuracy")
    d = (np.mean(vals) - base) * 100
    sd = np.std(vals, ddof=1) * 100 if len(vals) > 1 else 0.0
    lab.answer(f"{name}-test-accuracy-mean", float(np.mean(vals)))
    lab.answer(f"{name}-minus-original-points", float(d))
    noise = 2 * max(sd, base_std * 100)
    meaning = (f"more than twice the larger standard deviation (2 × {noise / 2:.1f} points): a real difference"
               if abs(d) > noise else f"less than twice the larger standard deviation (2 × {noise / 2:.1f} "
               f"points): not distinguishable with {len(vals)} seeds")
    robust = ("steadier over seeds than the original" if sd < 0.75 * base_std * 100 else
              "less steady over seeds than the original" if sd > 1.33 * base_std * 100 else
              "about as steady over seeds as the original")
    return (f"**{d:+.1f} points** of test accuracy against the original ({fmt_mean_std(vals)} vs "
            f"{base * 100:.1f} %), {meaning}; standard deviation over seeds {sd:.1f} points against "
            f"{base_std * 100:.1f}: {robust}")


def flattened_size(model):
    flat = next(layer for layer in model.layers if type(layer).__name__ == "Flatten")
    return int(np.prod(flat.output_shape[1:]))


def receptive_field(model):
    """Input pixels one value entering Flatten depends on (per side), through the convs and poolings."""
    size, jump = 1, 1
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Flatten":
            break
        if kind == "Conv2D":
            k, st = layer.kernel_size[0], layer.strides[0]
        elif kind in ("MaxPool2D", "AvgPool2D"):
            k, st = layer.pool_size[0], layer.strides[0]
        else:
            continue
        size += (k - 1) * jump
        jump *= st
    return size


def first_epochs(name, n=3):
    return ", ".join(f"{v:.1%}" for v in mean_curve(name, "val_accuracy")[:n])


third = groups["q14-third-block"].model()
best_epoch = {name: np.mean(groups[name].values("best_epoch")) for name in names}
lab.md(f"**Q13 — BatchNormalization** after each convolution, before its ReLU: {verdict('q13-batchnorm')}. "
       f"Mean validation accuracy after epochs 1–3: {first_epochs('q13-batchnorm')} with BatchNorm against "
       f"{first_epochs('q6-original')} without; best validation epoch {best_epoch['q13-batchnorm']:.1f} against "
       f"{best_epoch['q6-original']:.1f} (means over seeds). Normalising each channel over the batch keeps the "
       "activations' scale steady while the weights change; at test time the moving statistics replace the "
       "batch's.\n\n"
       f"**Q14 — a third block** (two Conv2D of 128 filters and a MaxPool, {third.count_params():,} parameters "
       f"against {original.count_params():,}): {verdict('q14-third-block')}. The extra pooling shrinks the "
       f"flattened vector from {flattened_size(original):,} to {flattened_size(third):,} values, so the first "
       "dense layer has fewer weights, and each value entering it depends on a "
       f"{receptive_field(third)}×{receptive_field(third)}-pixel window of the input instead of "
       f"{receptive_field(original)}×{receptive_field(original)}"
       + (f" — more than the whole {data.x_train.shape[1]}×{data.x_train.shape[2]} image (the window runs "
          "into the zero padding)" if receptive_field(third) >= data.x_train.shape[1] else "") + ".\n\n"
       f"**Q15 — tiny ResNet** ({groups['q15-tiny-resnet'].results[0]['params']:,} parameters): "
       f"{verdict('q15-tiny-resnet')}. Our reading of the document: a first Conv2D "
       "7×7 with 32 filters and same padding, BatchNorm, ReLU, MaxPool 2; the two blocks keep their two "
       "convolutions but lose their pooling; each block's input is added to its output before the block's last "
       "ReLU (ResNet's order), through a 1×1 convolution where the channel count changes (32 → 64; the document "
       "is silent, this is ResNet's projection shortcut); the 'global average pooling with pool_size = 4' is "
       "an AveragePooling2D(4) on the 16×16 maps (a true global pooling would have no pool size), giving 4×4×64 "
       "before Flatten. Residual connections were made for networks tens of layers deep, where gradients "
       "otherwise fade; with two blocks their effect cannot be told apart from that of the other changes "
       "(the 7×7 stem with its BatchNorm, and the average pooling that makes the dense part small).")
ranking = sorted(names, key=lambda n: -np.mean(groups[n].values("test_accuracy")))
lab.md("**In short.** By mean test accuracy: " + " > ".join(
    f"{n} ({np.mean(groups[n].values('test_accuracy')):.1%})" for n in ranking) + ".")

lab.finish()
