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
# # PW09 — Feature visualization and data augmentation (CIFAR-10)
#
# The course document is `../shared/seeds/000_*.txt`. This script follows its
# exercises in order and writes the report `labs/reports/pw09/README.md`.
# Run it with `minicnn lab run pw09 --profile quick|report|full`, as a plain
# script (`python labs/pw09_augmentation.py --profile quick`), or open it as a
# notebook (jupytext). Every number in the report comes from this run.

# %%
import matplotlib
import numpy as np

import minicnn as mc
from labs._runner import best_of, fmt_mean_std, start
from labs.catalog import PW09_STRATEGIES
from minicnn import inspect, viz
from minicnn.data import ImageAugmenter
from minicnn.viz.figures import new_figure

lab = start("pw09")
S = lab.settings
data = lab.data("cifar10")
print(f"profile {lab.profile}: {len(data.x_train)} training and {len(data.x_test)} test images")

lab.md("## Data\n\n"
       f"{len(data.x_train):,} training images (the last {S['validation_split']:.0%} of them held out for "
       f"validation, as Keras' `validation_split` does) and {len(data.x_test):,} test images, 32×32×3, "
       f"scaled to [0, 1]. Labels one-hot for the categorical cross-entropy. Source: {data.source}.")
lab.figure(viz.image_grid(data.x_train[:20], data.y_train[:20], class_names=data.class_names, ncols=10,
                          title="CIFAR-10: the first 20 training images"),
           "samples.png", "The first 20 training images with their classes.")

# %% [markdown]
# ## Exercise 1 a) — the CNN without augmentation
#
# `CONV(32F,same)-RELU-CONV(32F,same)-RELU-MAXP(2)-CONV(32F,same)-RELU-MAXP(2)-DENSE(10, softmax)`,
# 3×3 kernels, 10 epochs, batches of 128, categorical cross-entropy, Adam
# (Keras' defaults: learning rate 1e-3). The network is `pw09_cnn` in
# `labs/architectures.py`.

# %%
TRAIN = dict(architecture="pw09_cnn", data=data, batch_size=S["batch_size"],
             validation_split=S["validation_split"])
runs = {"no augmentation": lab.train("ex1a-baseline", epochs=S["epochs"], **TRAIN)}

summary = runs["no augmentation"].model().summary(print_fn=None)
lab.md("## Exercise 1 — data augmentation\n\n### a) The CNN\n\n"
       "The document's network, 3×3 kernels, Adam (learning rate 1e-3), categorical cross-entropy, "
       f"{S['epochs']} epochs, batches of {S['batch_size']}:\n\n```\n{summary}\n```")

# %% [markdown]
# ## Exercise 1 b) — online augmentation
#
# Figure 1 of the document: every epoch, each training batch is transformed
# afresh before it reaches the network; validation and test images never are.
# `fit(..., augment=ImageAugmenter(...))` does exactly that. The knobs are
# those of Keras' `ImageDataGenerator` from the slides' Fashion-MNIST example
# (flips, shifts, rotation, zoom); we try three strategies, from mild to strong.

# %%
AUGMENTERS = {
    "flip": ImageAugmenter(horizontal_flip=True),
    "flip-shift": ImageAugmenter(horizontal_flip=True, width_shift_range=0.1, height_shift_range=0.1),
    "flip-shift-rotate-zoom": ImageAugmenter(horizontal_flip=True, width_shift_range=0.1,
                                             height_shift_range=0.1, rotation_range=15, zoom_range=0.1),
}
assert tuple(AUGMENTERS) == PW09_STRATEGIES

def show_pipeline(aug, indices, n=7, seed=0):
    """Each training image (rows) and ``n`` random augmentations of it, as successive epochs draw them."""
    aug = ImageAugmenter(**{**aug.get_config(), "seed": seed})  # a copy: the figure is reproducible
    fig = new_figure(1.1 * (n + 1), 1.15 * len(indices) + 0.6)
    axes = fig.subplots(len(indices), n + 1, squeeze=False)
    for r, i in enumerate(indices):
        versions = aug(np.repeat(data.x_train[i][None], n, axis=0))
        for c, img in enumerate([data.x_train[i]] + list(versions)):
            axes[r, c].imshow(np.clip(img, 0, 1))
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(data.class_names[data.y_train[i]], fontsize=8)
    axes[0, 0].set_title("original", fontsize=8)
    for c in range(1, n + 1):
        axes[0, c].set_title(f"draw {c}", fontsize=8)
    fig.suptitle(f"{aug!r}".replace(", seed=" + str(seed), ""), fontsize=8)
    return fig


for k, (name, aug) in enumerate(AUGMENTERS.items()):
    lab.figure(show_pipeline(aug, (3, 12, 29, 41), seed=k), f"augmentation_{name}.png",
               f"Strategy '{name}' (`{aug!r}`): four training images (left) and seven random "
               f"augmentations of each, as the network sees them in successive epochs.")

for name, aug in AUGMENTERS.items():
    runs[name] = lab.train(f"ex1b-{name}", epochs=S["epochs"], augment=aug, **TRAIN)

# %% [markdown]
# ### Answers to exercise 1

# %%
def row(label, group):
    r = group.results
    return (f"| {label} | {fmt_mean_std(group.values('train_accuracy'))} | "
            f"{fmt_mean_std(group.values('test_accuracy'))} | {fmt_mean_std(group.values('best_val_accuracy'))} "
            f"(epoch {r[0]['best_epoch']}) | {r[0]['history']['loss'][-1]:.3f} / "
            f"{r[0]['history']['val_loss'][-1]:.3f} | {r[0]['time_per_epoch_s']:.0f} s |")


base_test = np.mean(runs["no augmentation"].values("test_accuracy"))
table = ["| experiment | train accuracy | test accuracy | best validation accuracy | final loss train / val "
         "| time per epoch |", "|---|---|---|---|---|---|"]
table += [row(name, g) for name, g in runs.items()]
gains = {name: np.mean(g.values("test_accuracy")) - base_test for name, g in runs.items()
         if name != "no augmentation"}
best_strategy = max(gains, key=gains.get)
for name, g in runs.items():
    lab.answer(f"ex1-a-test-accuracy-{name.replace(' ', '-')}", float(np.mean(g.values("test_accuracy"))))
    lab.answer(f"ex1-a-train-accuracy-{name.replace(' ', '-')}", float(np.mean(g.values("train_accuracy"))))
improved = [n for n, d in gains.items() if d > 0]
train_test = {n: np.mean(g.values("train_accuracy")) - np.mean(g.values("test_accuracy")) for n, g in runs.items()}
lab.md("### Exercise 1, question a) — accuracy on the training and test sets\n\n"
       "Train accuracy is the model evaluated on the (non-augmented) training images after the last epoch, "
       "as Keras' `evaluate` gives it, not the running mean of the epoch. Time per epoch is wall time on a 2-core "
       "machine shared with other jobs: it varies by up to 2× between runs and says nothing about the methods "
       "(augmentation costs about 4 ms per batch, `benchmarks/README.md`).\n\n" + "\n".join(table) + "\n\n"
       + (f"Augmentation improved the test accuracy for {', '.join(improved)} "
          f"(best: {best_strategy}, {gains[best_strategy] * 100:+.1f} points against "
          f"{base_test * 100:.1f} %)." if improved else
          f"No strategy improved the test accuracy after {S['epochs']} epochs (best: {best_strategy}, "
          f"{gains[best_strategy] * 100:+.1f} points against {base_test * 100:.1f} %).")
       + " Train − test accuracy, a measure of over-fitting: " + ", ".join(
           f"{n}: {np.mean(g.values('train_accuracy')) - np.mean(g.values('test_accuracy')):+.3f}"
           for n, g in runs.items()) + "; " + (
           "every strategy narrows it." if all(train_test[n] < train_test["no augmentation"] for n in AUGMENTERS)
           else "not every strategy narrows it."))
lab.answer("ex1-a-augmentation-improves-test-accuracy", "yes" if improved else "no")

# %% [markdown]
# Question b): the training and validation loss per epoch, with and without augmentation.

# %%
histories = {name: g.histories() for name, g in runs.items()}
lab.figure(viz.learning_curves(histories, metrics=("loss",), title="Training (solid) and validation (dashed) "
                               "loss per epoch"),
           "loss_curves.png", "Training (solid) and validation (dashed) cross-entropy per epoch, without "
           "augmentation and with each strategy.")
gaps = {name: np.mean([h["val_loss"][-1] - h["loss"][-1] for h in hs]) for name, hs in histories.items()}
min_val = {name: (int(np.argmin(hs[0]["val_loss"])) + 1, min(hs[0]["val_loss"])) for name, hs in histories.items()}


def loss_comment():
    """What the curves show, written from the measured losses."""
    plain_best, last = min_val["no augmentation"][0], S["epochs"]
    if plain_best < last:
        plain = (f"Without augmentation the training loss keeps falling while the validation loss is lowest at "
                 f"epoch {plain_best} and then rises: the network starts to memorise its training images "
                 f"(over-fitting), and ends {gaps['no augmentation']:+.3f} above its training loss. ")
    else:
        h = histories["no augmentation"][0]
        mid = last // 2 - 1
        trend = (f"widening from {h['val_loss'][mid] - h['loss'][mid]:+.3f} at epoch {mid + 1}"
                 if h['val_loss'][mid] - h['loss'][mid] < gaps["no augmentation"] else
                 f"against {h['val_loss'][mid] - h['loss'][mid]:+.3f} at epoch {mid + 1}")
        plain = (f"Without augmentation both losses still fall at epoch {last}, but the validation loss ends "
                 f"{gaps['no augmentation']:+.3f} above the training loss ({trend}): the network fits its "
                 f"training images better than new ones, the beginning of over-fitting. ")
    narrower = [n for n in AUGMENTERS if gaps[n] < gaps["no augmentation"]]
    return (plain + "With augmentation the training loss is higher — the task is harder, as no image is seen "
            "twice in the same form — and the gap between the curves is "
            + ("smaller for every strategy" if len(narrower) == len(AUGMENTERS) else
               f"smaller for {', '.join(narrower) or 'no strategy'}")
            + f" ({', '.join(f'{n}: {gaps[n]:+.3f}' for n in AUGMENTERS)}); a negative gap means the network does "
            "better on the untouched validation images than on the harder, transformed training batches. What "
            "it learns carries over to unseen images. The stronger the augmentation, the slower the training "
            "loss falls: "
            + ", ".join(f"{n}: {histories[n][0]['loss'][-1]:.3f}" for n in runs) + " after the last epoch.")


lab.md("### Exercise 1, question b) — loss per epoch with and without augmentation\n\n"
       "| experiment | final training loss | final validation loss | gap (val − train) | lowest validation "
       "loss (epoch) |\n|---|---|---|---|---|\n" + "\n".join(
           f"| {n} | {histories[n][0]['loss'][-1]:.3f} | {histories[n][0]['val_loss'][-1]:.3f} | {gaps[n]:+.3f} | "
           f"{min_val[n][1]:.3f} ({min_val[n][0]}) |" for n in runs) + "\n\n"
       + loss_comment())

for n in runs:
    lab.answer(f"ex1-b-loss-gap-{n.replace(' ', '-')}", float(gaps[n]))

# %% [markdown]
# Question c): which strategy is best (chosen on the validation accuracy, then checked on the test set).

# %%
best_name = best_of({n: g for n, g in runs.items()}, "best_val_accuracy")
best_aug = best_of({n: g for n, g in runs.items() if n != "no augmentation"}, "best_val_accuracy")
lab.answer("ex1-c-best-strategy", best_aug)
lab.md(f"### Exercise 1, question c) — the best strategy\n\n"
       f"Chosen on the validation accuracy (the test set is only for reporting): **{best_aug}** among the "
       f"augmentations ({fmt_mean_std(runs[best_aug].values('best_val_accuracy'))} validation, "
       f"{fmt_mean_std(runs[best_aug].values('test_accuracy'))} test), and **{best_name}** overall. "
       + ("The mildest strategies did best: a horizontal flip or a shift of 3 pixels keeps a car a car, while "
          "rotations and zooms also move part of the object out of the 32×32 frame and fill corners with "
          "repeated border pixels, a harder task for a network trained only "
          f"{S['epochs']} epochs." if best_aug != PW09_STRATEGIES[-1] else
          "The strongest strategy did best: with more varied training images the network generalises better, "
          f"even in {S['epochs']} epochs."))

# %% [markdown]
# ### Longer training
# Ten epochs may be too short for augmentation to pay off: the same network for
# 30 epochs, without augmentation and with the best strategy of the 10-epoch runs.

# %%
def long_comment(va, cross, long_runs):
    """Where the validation curves cross, and what the longer runs show, from the measured numbers."""
    aug, plain = va[best_aug], va["no augmentation"]
    behind = np.nonzero(aug <= plain)[0]
    stays = int(behind[-1]) + 2 if len(behind) else 1          # first epoch from which aug stays ahead
    tests = {n: np.mean(g.values("test_accuracy")) for n, g in long_runs.items()}
    best = {n: g.results[0]["best_epoch"] for n, g in long_runs.items()}
    text = (f"With augmentation the validation accuracy is first above the plain network's at epoch {cross}"
            + (f" and stays above from epoch {stays} on" if stays <= len(aug) else " but does not stay above")
            + "." if cross else "With augmentation the validation accuracy never gets above the plain network's.")
    text += (f" The plain network peaks at epoch {best['no augmentation']} ({plain.max():.1%}) and "
             + ("then declines as it over-fits" if best["no augmentation"] < len(plain) else "is still improving")
             + f"; the augmented one peaks at epoch {best[best_aug]} ({aug.max():.1%}). After "
             f"{len(aug)} epochs the test accuracy is {tests['no augmentation']:.1%} without and "
             f"{tests[best_aug]:.1%} with augmentation ({(tests[best_aug] - tests['no augmentation']) * 100:+.1f} "
             "points).")
    return text


if S["long_epochs"]:
    long_runs = {"no augmentation": lab.train("ex1-long-baseline", epochs=S["long_epochs"], **TRAIN),
                 best_aug: lab.train("ex1-long-best", epochs=S["long_epochs"], augment=AUGMENTERS[best_aug], **TRAIN)}
    lh = {n: g.histories() for n, g in long_runs.items()}
    lab.figure(viz.learning_curves(lh, metrics=("loss", "accuracy"),
                                   title=f"{S['long_epochs']} epochs: training (solid) and validation (dashed)"),
               "long_curves.png", f"{S['long_epochs']} epochs without augmentation and with "
               f"'{best_aug}', the best strategy of the {S['epochs']}-epoch runs.")
    va = {n: np.array(h[0]["val_accuracy"]) for n, h in lh.items()}
    ahead = np.nonzero(va[best_aug] > va["no augmentation"])[0]
    cross = int(ahead[0]) + 1 if len(ahead) else None
    lab.answer("ex1-long-strategy", best_aug)
    lab.answer("ex1-long-first-epoch-augmented-ahead", cross)
    lab.md(f"### Longer training ({S['long_epochs']} epochs)\n\n| experiment | train accuracy | test accuracy | "
           f"best validation accuracy (epoch) |\n|---|---|---|---|\n" + "\n".join(
               f"| {n} | {fmt_mean_std(g.values('train_accuracy'))} | {fmt_mean_std(g.values('test_accuracy'))} | "
               f"{fmt_mean_std(g.values('best_val_accuracy'))} ({g.results[0]['best_epoch']}) |"
               for n, g in long_runs.items()) + "\n\n"
           + long_comment(va, cross, long_runs))
else:
    lab.md("### Longer training\n\nThe longer pair of runs (30 epochs) is part of the full profile "
           "(`minicnn lab run pw09 --profile full`), not of this one.")

# %% [markdown]
# ## Exercise 2 — visualisation of activations
#
# With the best network of exercise 1 (highest validation accuracy).
# b) all the filters of a layer as a grid of subplots; c) the activation maps of
# every CONV, RELU and MAXP output for `X_train[12]`.

# %%
candidates = dict(runs)
if S["long_epochs"]:
    candidates.update({f"{n} ({S['long_epochs']} epochs)": g for n, g in long_runs.items()})
# the stored model is the one after the last epoch: choose on its (last-epoch) validation accuracy
best_name = max(candidates, key=lambda n: np.mean([h["val_accuracy"][-1] for h in candidates[n].histories()]))
best_group = candidates[best_name]
model = best_group.model()
conv_layers = [l for l in model.layers if isinstance(l, mc.Conv2D)]
lab.answer("ex2-network", best_group.exercise)


def filter_mosaic(kernel, title):
    """All filters of a deeper layer in one image: a column per filter, a row per input channel,
    each 3×3 plane scaled to its own range (one imshow: 1,024 subplots would take a minute)."""
    kh, kw, c_in, f = kernel.shape
    cell = np.full((c_in, f, kh + 1, kw + 1), np.nan)
    for c in range(c_in):          # loops over input channels and filters, as the exercise asks
        for j in range(f):
            plane = kernel[:, :, c, j]
            cell[c, j, :kh, :kw] = (plane - plane.min()) / (np.ptp(plane) or 1.0)
    mosaic = cell.transpose(0, 2, 1, 3).reshape(c_in * (kh + 1), f * (kw + 1))
    fig = new_figure(0.28 * f + 1.0, 0.28 * c_in + 1.0)
    ax = fig.add_subplot()
    gray = matplotlib.colormaps["gray"].with_extremes(bad="#5b7db1")  # blue gaps: not a weight
    ax.imshow(mosaic, cmap=gray, interpolation="nearest")
    ax.set_xticks(np.arange(0, f, 4) * (kw + 1) + kw / 2 - 0.5, np.arange(0, f, 4))
    ax.set_yticks(np.arange(0, c_in, 4) * (kh + 1) + kh / 2 - 0.5, np.arange(0, c_in, 4))
    ax.set_xlabel("filter (output channel)")
    ax.set_ylabel("input channel")
    ax.set_title(title, fontsize=9)
    return fig


def show_filters(layer):
    """All the filters of a conv layer, per input channel; the first layer also as RGB images."""
    kernel = layer.params["kernel"].value
    kh, kw, c_in, f = kernel.shape
    scale = "each plane scaled to its own range, black = lowest, white = highest weight"
    if c_in != 3:
        return {"per_channel": filter_mosaic(kernel, f"{layer.name}: {f} filters {kh}×{kw}×{c_in}; {scale}")}
    return {"per_channel": viz.filter_grid(kernel, mode="per_channel", ncols=16,
                                           title=f"{layer.name}: {f} filters {kh}×{kw}×3 per colour channel; "
                                                 f"{scale}"),
            "rgb": viz.filter_grid(kernel, mode="rgb", ncols=16,
                                   title=f"{layer.name}: the {f} filters as RGB images (one range per filter)")}


lab.md(f"## Exercise 2 — visualisation of activations\n\nThe network used: **{best_name}** "
       f"(seed {best_group.runs[0].spec.seed}), the best validation accuracy after the last epoch among the runs "
       f"of exercise 1 ({best_group.histories()[0]['val_accuracy'][-1]:.1%}).\n\n"
       "### b) All the filters of a layer\n\n`show_filters(layer)` in `labs/pw09_augmentation.py` loops over "
       "the filters and their input channels (`viz.filter_grid`). The first layer's 3×3×3 filters are shown "
       "as RGB images and per channel; deeper layers per input channel (rows: the 32 input channels, "
       "columns: the 32 filters).")
for layer in conv_layers:
    for mode, fig in show_filters(layer).items():
        lab.figure(fig, f"filters_{layer.name}_{mode}.png",
                   f"{layer.name}: filters {'as RGB images' if mode == 'rgb' else 'per input channel'}.")

# %%
IMAGE_INDEX = 12
image = data.x_train[IMAGE_INDEX]
spatial = [l.name for l in model.layers if isinstance(l, (mc.Conv2D, mc.ReLU, mc.MaxPool2D))]
maps = inspect.activations(model, image[None], layers=spatial)
np.savez(lab.out / "ex2-activation-maps.npz", image=image, **maps)  # what the figures show (tests read it)


def show_activations(image, name, a):
    """The input image beside all the maps of one layer (one panel per filter)."""
    fig = viz.activation_maps(a, ncols=8, title=f"{name}: {a.shape[1]}×{a.shape[2]}×{a.shape[3]} for "
                              f"X_train[{IMAGE_INDEX}] (each map scaled to its own range; 'all 0': a silent filter)")
    ax = fig.add_axes([-0.13, 0.4, 0.12, 0.2])
    ax.imshow(image)
    ax.set_title("input", fontsize=8)
    ax.axis("off")
    return fig


lines = []
for name, a in maps.items():
    lab.figure(show_activations(image, name, a), f"activations_{name}.png",
               f"Activation maps of {name} for X_train[{IMAGE_INDEX}] ({data.class_names[data.y_train[IMAGE_INDEX]]}).")
    a = a[0]
    dead = int(np.sum(a.reshape(-1, a.shape[-1]).max(axis=0) <= 0))
    lines.append(f"| {name} | {a.shape[0]}×{a.shape[1]}×{a.shape[2]} | {np.mean(a > 0):.0%} | {dead} | "
                 f"{a.min():.2f} … {a.max():.2f} |")
lab.md(f"### c) Activation maps for X_train[{IMAGE_INDEX}] ({data.class_names[data.y_train[IMAGE_INDEX]]})\n\n"
       "| layer | shape | positive values | maps with no positive value | range |\n|---|---|---|---|---|\n"
       + "\n".join(lines) + "\n\n"
       "What changes from layer to layer: the first convolution's maps still look like the image — each is "
       "the image seen through one 3×3 colour filter (edges of one orientation, one colour contrast, or a "
       "blurred copy). The ReLU keeps only the positive responses, so the maps become sparse (the share of "
       "positive values above). The second convolution combines the 32 first-layer maps, and its responses "
       "are less tied to single colours and more to local patterns; each max-pooling halves the resolution "
       "and keeps the strongest response in each 2×2 window, so the maps get coarser and more abstract, "
       "marking *where* a pattern occurs rather than what the pixels look like. By the last pooling "
       "(8×8), the maps no longer resemble the image: they are the features the dense layer classifies.")

# %% [markdown]
# ## Exercise 3 — review questions

# %%
lab.md(f"""## Exercise 3 — review questions

**Two strategies to visualise what a CNN models.** (1) Look at the activations: run an image through the
network and show the output maps of each layer (exercise 2 c), or the filters themselves (exercise 2 b);
this shows what each filter responds to in a given image. (2) Look at the input through the gradient:
saliency maps and Grad-CAM (`minicnn.inspect.saliency`, `grad_cam`) show which pixels or regions of an
image the class score depends on, and activation maximisation (`inspect.activation_maximization`)
synthesises the input that excites a filter or class most. Both families appear in the PW11 lab.

**What augmentation fights.** Over-fitting: with a limited training set the network memorises its images
(here, without augmentation the gap between validation and training loss reached
{gaps['no augmentation']:+.3f}, and {min(gaps[n] for n in AUGMENTERS):+.3f} to {max(gaps[n] for n in AUGMENTERS):+.3f}
with augmentation). Transformations that keep the label teach invariances (a flipped or shifted car is
still a car) and enlarge the training set at no labelling cost.

**Implementation strategies.** *Offline*: transform the dataset once and train on the enlarged, fixed
set (more disk and memory, the same copies every epoch). *Online* (Figure 1 of the document, used here):
transform every batch on the fly, each epoch seeing fresh random versions — Keras' `ImageDataGenerator`,
torchvision's `transforms` in a `Dataset`, minicnn's `fit(augment=ImageAugmenter(...))` or
`DataLoader(dataset with transform=...)`. Only training data are augmented; validation and test data are
left as they are (possibly with test-time augmentation, averaging predictions over transformed copies,
as a separate technique).""")
lab.answer("ex3-what-augmentation-fights", "over-fitting")

lab.finish()
