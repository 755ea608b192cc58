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
from dataclasses import replace

import numpy as np

from labs._runner import fmt_mean_std, start
from labs.catalog import TINY_VGG_VARIANTS
from minicnn import inspect, viz
from minicnn.data import Standardizer

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


def table(names):
    """Parameters, test accuracy, best validation accuracy and its epoch, time per epoch, over seeds."""
    rows = ["| network | parameters | test accuracy | best validation accuracy | epoch of the best | "
            "time per epoch |", "|---|---|---|---|---|---|"]
    for name in names:
        grp = groups[name]
        epochs = grp.values("best_epoch")
        rows.append(f"| {name} | {grp.results[0]['params']:,} | {fmt_mean_std(grp.values('test_accuracy'))} | "
                    f"{fmt_mean_std(grp.values('best_val_accuracy'))} | {np.mean(epochs):.1f} ({min(epochs)}–"
                    f"{max(epochs)}) | {np.mean(grp.values('time_per_epoch_s')):.0f} s |")
    return "\n".join(rows)


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
lab.md(f"The runs differ only by their random initialisation and batch order; their test accuracies span "
       f"{spread:.1f} points. " + ("This spread is small against the differences between the networks below, so "
       "the model is robust to its initialisation and one run is a fair estimate — but comparisons between "
       "networks closer than about two standard deviations are not meaningful."
       if spread < 2 else "A spread of this size means a single run can mislead when comparing networks: only "
       "differences of several standard deviations are meaningful."))
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
lab.md("The first convolution's map still shows the object's outline; after each ReLU only the positive "
       "responses remain, each pooling halves the resolution, and by the second block the map marks where a "
       "pattern occurs rather than what the image looks like.")
kernel = original.get_layer("block1_conv1").params["kernel"].value
lab.figure(viz.filter_grid(kernel, mode="per_channel", ncols=16,
                           title="First-layer filters: 32 filters (columns) × 3 input channels (rows R, G, B)"),
           "q11_first_layer_filters.png", "**Q11.** All the weights of the first convolution, each 3×3 plane "
           "scaled to its own range (dark: lowest, bright: highest weight).")
lab.md("At 3×3 the filters are hard to interpret: a few show a clear gradient across the window (edge "
       "detectors of one orientation) or the same sign on all three channels (brightness), others a colour "
       "opponency between channels.")

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
lab.md("## 5. Improving the model (Q13–Q15)\n\nEach variant trained like the original, with the same seeds "
       "(each seed gives every network the same batch order).\n\n" + table(names))
band_figure(names, "The four networks: mean ± 1 std over seeds", "q13_q15_variants.png",
            "Loss and accuracy per epoch for the four networks (mean over seeds, ±1 std band; training solid, "
            "validation dashed).")
base = np.mean(groups["q6-original"].values("test_accuracy"))
base_std = np.std(groups["q6-original"].values("test_accuracy"), ddof=1) if len(accs) > 1 else 0.0


def verdict(name):
    vals = groups[name].values("test_accuracy")
    d = (np.mean(vals) - base) * 100
    sd = np.std(vals, ddof=1) * 100 if len(vals) > 1 else 0.0
    lab.answer(f"{name}-test-accuracy-mean", float(np.mean(vals)))
    lab.answer(f"{name}-minus-original-points", float(d))
    return (f"{d:+.1f} points of test accuracy against the original ({fmt_mean_std(vals)} vs "
            f"{base * 100:.1f} %), standard deviation over seeds {sd:.1f} points (original: {base_std * 100:.1f})")


lab.md(f"**Q13 — BatchNormalization** after each convolution, before its ReLU: {verdict('q13-batchnorm')}. "
       "Normalising each channel over the batch keeps the activations' scale steady while the weights change, "
       "which allows faster progress per epoch; its moving statistics are used at test time.\n\n"
       f"**Q14 — a third block** (128 filters): {verdict('q14-third-block')}. The extra pooling brings the "
       "flattened vector from 4,096 to 2,048 values, so the dense layer has fewer weights, and the third block "
       "sees larger parts of the image (a receptive field of 36×36 pixels instead of 16×16).\n\n"
       f"**Q15 — tiny ResNet**: {verdict('q15-tiny-resnet')}. Our reading of the document: a first Conv2D "
       "7×7 with 32 filters and same padding, BatchNorm, ReLU, MaxPool 2; the two blocks keep their two "
       "convolutions but lose their pooling; each block's input is added to its output before the block's last "
       "ReLU (ResNet's order), through a 1×1 convolution where the channel count changes (32 → 64; the document "
       "is silent, this is ResNet's projection shortcut); the 'global average pooling with pool_size = 4' is "
       "an AveragePooling2D(4) on the 16×16 maps (a true global pooling would have no pool size), giving 4×4×64 "
       "before Flatten. As the document expects, residual connections matter for very deep networks; with two "
       "blocks their effect is within a few points.")

lab.finish()
