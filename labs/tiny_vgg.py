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
from labs.catalog import TINY_VGG_CONTROLS, TINY_VGG_VARIANTS
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
lab.figure(viz.learning_curves(first["history"], split="all",
                               title=f"Tiny VGG, seed {first['seed']}: loss and accuracy per epoch"),
           "q8_curves.png", "**Q8.** Loss and accuracy per epoch on the training (solid), validation (dashed) "
           "and test (dotted) sets (seed "
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


def epoch_seconds(architectures, rounds=5, steps=3):
    """Seconds of training steps in one epoch of each network, timed apart on this machine.

    architectures: {exercise: architecture name}. -> {exercise: seconds}

    The runs' own wall times are not comparable between networks: runs trained side by side
    (``--jobs``) or alone, in one sitting or several, while other programs ran or not. So
    training steps at the lab's batch size are timed here, the networks taking turns (``rounds``
    turns of ``steps`` steps each, after a warm-up step) so that a slower spell of the machine
    falls on all of them; the median step times the steps of an epoch (validation and test
    passes not included).
    """
    x = data.x_train[:S["batch_size"]]
    y = np.eye(10, dtype=np.float32)[data.y_train[:S["batch_size"]]]
    models = {}
    for name, architecture in architectures.items():
        models[name] = build(architecture, seed=0)
        models[name].compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        train_step(models[name], x, y)
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            for _ in range(steps):
                t = time.perf_counter()
                train_step(model, x, y)
                times[name].append(time.perf_counter() - t)
    steps_per_epoch = -(-(len(data.x_train) - n_val) // S["batch_size"])
    return {name: float(np.median(t)) * steps_per_epoch for name, t in times.items()}


ARCH = dict(TINY_VGG_VARIANTS + TINY_VGG_CONTROLS)
epoch_s = epoch_seconds(ARCH)


def table(names):
    """Parameters, test accuracy, best validation accuracy and its epoch, time per epoch, over seeds."""
    rows = ["| network | parameters | test accuracy, last epoch | best validation accuracy | epoch of the best | "
            "test accuracy at that epoch | training time per epoch |", "|---|---|---|---|---|---|---|"]
    for name in names:
        grp = groups[name]
        epochs = grp.values("best_epoch")
        rows.append(f"| {name} | {grp.results[0]['params']:,} | {fmt_mean_std(grp.values('test_accuracy'))} | "
                    f"{fmt_mean_std(grp.values('best_val_accuracy'))} | {np.mean(epochs):.1f} ({min(epochs)}–"
                    f"{max(epochs)}) | {fmt_mean_std(grp.values('best_test_accuracy'))} | "
                    f"{epoch_s[name]:.{0 if epoch_s[name] >= 10 else 1}f} s |")
    return ("\n".join(rows) + "\n\nMean ± sample standard deviation over the seeds. Epoch of the best: mean "
            "(min–max) of the epoch with the highest validation accuracy; the test accuracy at that epoch is what "
            "early stopping on the validation set (Keras' `ModelCheckpoint(monitor='val_accuracy', "
            "save_best_only=True)`) would give, "
            "the test set playing no part in the choice. Training "
            f"time per epoch: the median of {5 * 3} training steps at batch {S['batch_size']}, timed on this machine "
            "with the networks taking turns, times the "
            f"{-(-(len(data.x_train) - n_val) // S['batch_size'])} steps of an epoch (the runs' own wall times mix "
            "runs trained alone and side by side). On this shared virtual machine the absolute times varied by up "
            "to a third between two sittings of the same day; the ratios between networks by a few per cent.")


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
       + (f" The best validation accuracies are much closer (standard deviation "
          f"{np.std(g.values('best_val_accuracy'), ddof=1) * 100:.1f} points against "
          f"{np.std(accs, ddof=1) * 100:.1f} for the final test accuracies): the initialisation barely changes how "
          "good the network gets; most of the spread comes from where each over-fitting run happens to stand at "
          "the last epoch."
          if len(accs) > 1 and np.std(g.values("best_val_accuracy"), ddof=1) < 0.5 * np.std(accs, ddof=1) else "")
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
for exercise, arch in TINY_VGG_VARIANTS[1:] + TINY_VGG_CONTROLS:
    groups[exercise] = lab.train(exercise, arch, **TRAIN)
names = [e for e, _ in TINY_VGG_VARIANTS]
control = TINY_VGG_CONTROLS[0][0]   # the tiny ResNet without its shortcuts
tiles = {}  # Winograd tile size -> runs (result.json has it since F(4x4, 3x3) became the default)
for name in names + [control]:
    by_tile = {}
    for r in groups[name].results:
        by_tile.setdefault(r.get("conv_winograd_tile", 2), []).append(r["seed"])
    for m, seeds in by_tile.items():  # a whole exercise by its name, else its seeds one by one
        tiles.setdefault(m, []).append(name if len(by_tile) == 1 else f"{name} (seeds {seeds})")
method = ""
if len(tiles) > 1:
    method = ("\n\nThe 3x3 convolutions of " + "; of ".join(
        f"{', '.join(runs)} were computed by Winograd's F({m}x{m}, 3x3)" for m, runs in sorted(tiles.items()))
        + ": minicnn's default changed while this lab was training. Both compute the same convolution; their "
        "float32 results differ by a few millionths of the outputs' scale, far below the differences between seeds.")
n_seeds = len(accs)
if n_seeds > 1:  # the 95 % interval of a standard deviation estimated from n_seeds values (chi-square)
    from scipy.stats import chi2
    sd_low, sd_high = (np.sqrt((n_seeds - 1) / chi2.ppf(q, n_seeds - 1)) for q in (0.975, 0.025))
    sd_caveat = (f" With {n_seeds} seeds a standard deviation is itself a rough estimate: its 95 % interval runs "
                 f"from {sd_low:.1f}× to {sd_high:.1f}× the measured value. So the comparisons below count a "
                 "difference of mean accuracy only beyond twice the larger of the two standard deviations, and "
                 "'steadier' or 'less steady' over seeds is an indication, not a finding.")
else:
    sd_caveat = ""
lab.md("## 5. Improving the model (Q13–Q15)\n\nEach variant trained like the original, with the same seeds "
       "(each seed gives every network the same batch order). The last row is a control the document does not "
       "ask for: the tiny ResNet of Q15 without its residual connections, all else equal (see Q15).\n\n"
       + table(names + [control]) + sd_caveat + method)
band_figure(names, "The four networks: mean ± 1 std over seeds", "q13_q15_variants.png",
            "Loss and accuracy per epoch for the four networks (mean over seeds, ±1 std band; training solid, "
            "validation dashed).")
def mean_curve(name, key):
    """The mean over seeds of one history curve (e.g. "val_accuracy"), per epoch."""
    return np.mean([r["history"][key] for r in groups[name].results], axis=0)


LABEL = {"q6-original": "the original", control: "the same network without shortcuts"}


LAST, BEST = "test_accuracy", "best_test_accuracy"   # the two measures of test accuracy compared
METRICS = ((LAST, "at the last epoch"), (BEST, "at the best validation epoch"))


def compare(name, reference="q6-original"):
    """``name`` against ``reference`` on two measures of test accuracy: at the last epoch (the
    document's protocol) and at the epoch of best validation accuracy (early stopping).

    A difference counts when it exceeds twice the larger of the two standard deviations over seeds.
    -> (sentence, {measure: difference in points}, {measure: whether it counts})
    """
    diffs, counts, parts = {}, {}, []
    for key, when in METRICS:
        vals, ref = groups[name].values(key), groups[reference].values(key)
        d = (np.mean(vals) - np.mean(ref)) * 100
        noise = 2 * max(np.std(vals, ddof=1), np.std(ref, ddof=1)) * 100 if len(vals) > 1 else 0.0
        diffs[key], counts[key] = d, abs(d) > noise
        parts.append(f"**{d:+.1f} points** {when} ({fmt_mean_std(vals)} vs {fmt_mean_std(ref)}; "
                     f"{'beyond' if counts[key] else 'within'} twice the larger standard deviation, "
                     f"{noise:.1f} points)")
        lab.answer(f"{name}-minus-{reference.split('-', 1)[1]}-points"
                   + ("" if key == LAST else "-early-stopping"), float(d))
    last, best = counts[LAST], counts[BEST]
    meaning = ("a real difference on both measures" if last and best else
               "a real difference when training stops at the best validation epoch; at the last epoch the "
               "over-fitted runs scatter too much to tell" if best else
               "a real difference at the last epoch only" if last else
               f"not distinguishable with {len(groups[name].results)} seeds")
    sd, ref_sd = (np.std(groups[n].values("test_accuracy"), ddof=1) * 100 if len(groups[n].results) > 1 else 0.0
                  for n in (name, reference))
    robust = ("steadier over seeds than" if sd < 0.75 * ref_sd else
              "less steady over seeds than" if sd > 1.33 * ref_sd else "about as steady over seeds as")
    return (f"test accuracy {parts[0]}, {parts[1]}: {meaning}. "
            f"Standard deviation of the last-epoch test accuracy over seeds: {sd:.1f} points against "
            f"{ref_sd:.1f}, {robust} {LABEL.get(reference, reference)}"), diffs, counts


def lowest_val_loss(name):
    """The lowest validation loss of each run, averaged over the seeds."""
    return np.mean([min(r["history"]["val_loss"]) for r in groups[name].results])


def percent(name, key, epoch):
    return f"{mean_curve(name, key)[epoch - 1]:.1%}"


for name in names + [control]:
    lab.answer(f"{name}-test-accuracy-mean", float(np.mean(groups[name].values("test_accuracy"))))


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


# %% [markdown]
# Would the document's 100 epochs change the comparison? Per network: when validation accuracy
# peaked, when validation loss was lowest, and how much the second half of training added to
# the best validation accuracy (mean over seeds).

# %%
E = S["epochs"]
late_gain = {name: 100 * np.mean([max(r["history"]["val_accuracy"]) - max(r["history"]["val_accuracy"][:E // 2])
                                  for r in groups[name].results]) for name in names + [control]}
loss_min = {name: np.mean([int(np.argmin(r["history"]["val_loss"])) + 1 for r in groups[name].results])
            for name in names + [control]}
still_rising = [n for n in late_gain if late_gain[n] >= 0.5]
lab.md(f"**Training length.** Epochs {E // 2 + 1}–{E} added to the best validation accuracy: "
       + "; ".join(f"{n} {late_gain[n]:+.1f} points (lowest validation loss at epoch {loss_min[n]:.1f})"
                   for n in late_gain) + ". "
       + ("Every network's validation accuracy had flattened by the middle of training while its validation loss "
          "rose (over-fitting): the document's 100 epochs would add over-fitting, not accuracy, so they would not "
          "change the comparisons below."
          if not still_rising else
          ", ".join(still_rising) + " still gained half a point or more in the second half: longer training "
          "could raise " + ("its" if len(still_rising) == 1 else "their") + " accuracy a little."))

third = groups["q14-third-block"].model()
q13, _, _ = compare("q13-batchnorm")
tenth = min(10, E)
bn_slower = mean_curve("q13-batchnorm", "accuracy")[tenth - 1] < mean_curve("q6-original", "accuracy")[tenth - 1]
bn_later = loss_min["q13-batchnorm"] > loss_min["q6-original"]
lab.md(f"**Q13 — BatchNormalization** after each convolution, before its ReLU. Against the original, {q13}. "
       f"After epoch 1, training accuracy {percent('q13-batchnorm', 'accuracy', 1)} with BatchNorm against "
       f"{percent('q6-original', 'accuracy', 1)} without (validation {percent('q13-batchnorm', 'val_accuracy', 1)} "
       f"against {percent('q6-original', 'val_accuracy', 1)}); after epoch {tenth}, training accuracy "
       f"{percent('q13-batchnorm', 'accuracy', tenth)} against {percent('q6-original', 'accuracy', tenth)}; "
       f"lowest validation loss {lowest_val_loss('q13-batchnorm'):.3f} "
       f"at epoch {loss_min['q13-batchnorm']:.1f} against "
       f"{lowest_val_loss('q6-original'):.3f} at epoch "
       f"{loss_min['q6-original']:.1f} (means over seeds). "
       + ("So here BatchNorm " + ("fitted the training set more slowly" if bn_slower else
                                  "fitted the training set faster") + " and over-fitted "
          + ("later" if bn_later else "no later") + ". "
          + ("During training each layer sees its input normalised with the statistics of the current batch, "
             "which vary from batch to batch: a noise that acts as a regulariser and slows the memorising of the "
             "training images. " if bn_slower and bn_later else
             "Normalising each channel over the batch keeps the activations' scale steady while the weights "
             "change, so each step of Adam stays effective. " if not bn_slower else "")
          + "At test time the moving statistics replace the batch's."))

q14, _, _ = compare("q14-third-block")
lab.md(f"**Q14 — a third block** (two Conv2D of 128 filters and a MaxPool, {third.count_params():,} parameters "
       f"against {original.count_params():,}). Against the original, {q14}. The extra pooling shrinks the "
       f"flattened vector from {flattened_size(original):,} to {flattened_size(third):,} values, so the first "
       "dense layer has fewer weights, and each value entering it depends on a "
       f"{receptive_field(third)}×{receptive_field(third)}-pixel window of the input instead of "
       f"{receptive_field(original)}×{receptive_field(original)}"
       + (f" — more than the whole {data.x_train.shape[1]}×{data.x_train.shape[2]} image (the window runs "
          "into the zero padding)" if receptive_field(third) >= data.x_train.shape[1] else "") + ".")

q15, d15, q15_counts = compare("q15-tiny-resnet")
shortcut_text, d_short, shortcuts_count = compare("q15-tiny-resnet", control)
plain_text, d_plain, plain_counts = compare(control)
short_real, plain_real = any(shortcuts_count.values()), any(plain_counts.values())
ahead_from_start = bool(np.all(mean_curve("q15-tiny-resnet", "val_accuracy") > mean_curve(control, "val_accuracy")))
plain = groups[control].model()
n_convs = sum(type(layer).__name__ == "Conv2D" for layer in plain.layers)
lab.md(f"**Q15 — tiny ResNet** ({groups['q15-tiny-resnet'].results[0]['params']:,} parameters). Against the "
       f"original, {q15}.\n\n"
       "Our reading of the document: a first Conv2D 7×7 with 32 filters and same padding, BatchNorm, ReLU, "
       "MaxPool 2; the two blocks keep their two convolutions but lose their pooling; each block's input is "
       "added to its output before the block's last ReLU (ResNet's order), through a 1×1 convolution where the "
       "channel count changes (32 → 64; the document is silent, this is ResNet's projection shortcut); the "
       "'global average pooling with pool_size = 4' is an AveragePooling2D(4) on the 16×16 maps (a true global "
       "pooling would have no pool size), giving 4×4×64 before Flatten.\n\n"
       "The tiny ResNet changes more than the shortcuts: a 7×7 stem with BatchNorm, no pooling inside the "
       f"blocks, an average pooling that leaves {flattened_size(plain):,} values to Flatten instead of "
       f"{flattened_size(original):,}. To see what the residual "
       "connections themselves do, the same network was also trained without them (`tiny_resnet_plain`: no "
       f"Add, no projection, {groups[control].results[0]['params']:,} parameters). With the shortcuts against "
       f"without, {shortcut_text}. Mean validation accuracy after epochs 1–3: {first_epochs('q15-tiny-resnet')} with "
       f"shortcuts, {first_epochs(control)} without. The network without shortcuts against the "
       f"original: {plain_text}. "
       + (f"So the residual connections make no difference that {len(accs)} seeds can tell apart from the "
          f"seeds' spread ({d_short[LAST]:+.1f} points at the last epoch, {d_short[BEST]:+.1f} at the best "
          "validation epoch), as the document expects (\"the improvement may be very slight (or null)\"): they "
          "were made for networks tens of layers deep, where gradients otherwise fade, and this one has "
          f"{n_convs} convolutions on its main path."
          if not short_real else
          f"So the residual connections themselves {'help' if d_short[BEST] > 0 else 'hurt'} here: "
          f"{d_short[BEST]:+.1f} points at the best validation epoch, {d_short[LAST]:+.1f} at the last"
          + (" — the \"very slight\" improvement the document allows for. Shortcuts were made for networks "
             f"tens of layers deep, where gradients otherwise fade; this one has {n_convs} convolutions on its "
             "main path, and still its validation accuracy is higher with them "
             + ("from the first epoch on." if ahead_from_start else "once training has settled.")
             if d_short[BEST] > 0 else "."))
       + (" The rest of the tiny ResNet's gain over the original comes from what else changed — the 7×7 stem "
          "with its BatchNorm, the blocks without pooling, the average pooling and the smaller dense part: "
          f"without shortcuts the network is still {d_plain[BEST]:.1f} points better than the original at the "
          f"best validation epoch ({d_plain[LAST]:+.1f} at the last)."
          if plain_real and d_plain[BEST] > 0 else
          f" Neither part alone — the shortcuts ({d_short[BEST]:+.1f} points at the best validation epoch) nor "
          f"the other changes ({d_plain[BEST]:+.1f} points without shortcuts) — is beyond the seeds' spread "
          f"here; together ({d15[BEST]:+.1f} points) they are."
          if any(q15_counts.values()) and not short_real and not plain_real else ""))
band_figure(["q15-tiny-resnet", control], "Tiny ResNet with and without its shortcuts: mean ± 1 std over seeds",
            "q15_shortcuts.png", "**Q15.** The tiny ResNet and the same network without its residual connections "
            "(mean over seeds, ±1 std band; training solid, validation dashed).")
def ranking(key):
    return " > ".join(f"{n} ({np.mean(groups[n].values(key)):.1%})"
                      for n in sorted(names, key=lambda n: -np.mean(groups[n].values(key))))


lab.md(f"**In short.** By mean test accuracy at the last epoch: {ranking(LAST)}; at the best validation epoch: "
       f"{ranking(BEST)}. The control without shortcuts: {np.mean(groups[control].values(LAST)):.1%} and "
       f"{np.mean(groups[control].values(BEST)):.1%}.")

lab.finish()
