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
# # PW11 — Understanding deep neural networks (MNIST)
#
# The course document is `../shared/seeds/003_*.txt`; its three notebooks
# (`CNN_filter_visualization`, `CNN_activation_maximization`, `CNN_CAM_keras_vis`)
# are not in our copy, so this script does what the document says they do, with
# `minicnn.inspect` (the computations) and `minicnn.viz` (the figures), and writes
# the report `labs/reports/pw11/README.md`. Run it with
# `minicnn lab run pw11 --profile quick|report|full`, as a plain script
# (`python labs/pw11_understanding.py --profile quick`), or open it as a notebook
# (jupytext). Every number in the report comes from this run.

# %%
import numpy as np

from labs._runner import fmt_mean_std, start
from minicnn import inspect, viz
from minicnn.viz.figures import add_note, new_figure, set_title

lab = start("pw11")
S = lab.settings
data = lab.data("mnist")
NAMES = data.class_names
K = data.n_classes
x_test, y_test = data.x_test, data.y_test
print(f"profile {lab.profile}: {len(data.x_train)} training and {len(x_test)} test images")

lab.md("## Data\n\n"
       f"MNIST: {len(data.x_train):,} training and {len(x_test):,} test images of handwritten digits, 28×28×1, "
       f"scaled to [0, 1]; labels one-hot for the categorical cross-entropy. Source: {data.source}. "
       "No validation split: every training image is used for training, and the test set is evaluated "
       "after each epoch to draw the learning curves (as the course notebooks do with "
       "`validation_data=(X_test, Y_test)`).")
lab.figure(viz.image_grid(data.x_train[:20], data.y_train[:20], class_names=NAMES, ncols=10,
                          title="MNIST: the first 20 training images"),
           "samples.png", "The first 20 training images with their labels.")


# %% [markdown]
# ## Figures the library does not draw
#
# `minicnn.viz` draws one image's maps, heatmaps over images and the filter
# statistics; the lab adds three small figures: learning curves with a *test*
# curve, a grid "rows × filters" of maps (one row per digit or per class), and
# rows of generated images side by side.

# %%
def curves_figure(groups, title):
    """Loss and accuracy per epoch: training (solid) and test set (dashed), one colour per run.

    groups: {label: RunGroup}; each run's history has loss/accuracy and test_loss/test_accuracy.
    """
    fig = new_figure(9.5, 3.4)
    axes = fig.subplots(1, 2)
    for c, (label, group) in enumerate(groups.items()):
        h = group.results[0]["history"]
        epochs = np.arange(1, len(h["loss"]) + 1)
        for ax, metric in zip(axes, ("loss", "accuracy")):
            ax.plot(epochs, h[metric], "-", color=f"C{c}", label=f"{label}: training")
            ax.plot(epochs, h[f"test_{metric}"], "--", color=f"C{c}", label=f"{label}: test set")
    for ax, metric in zip(axes, ("cross-entropy loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric, fontsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    set_title(fig, title)
    add_note(fig, "training: the running mean over the epoch's batches (as Keras prints it); test set: the "
                  "network evaluated on all test images after the epoch")
    return fig


def mosaic(tiles, gap=2):
    """Tiles (R, C, T, T, 3) RGB in [0, 1] -> one image (R (T + gap), C (T + gap), 3), white gaps.

    One imshow for the whole grid: a figure of 170 small axes takes matplotlib seconds to lay out.
    """
    R, C, T = tiles.shape[:3]
    out = np.ones((R, T + gap, C, T + gap, 3))
    out[:, :T, :, :T] = tiles.transpose(0, 2, 1, 3, 4)
    return out.reshape(R * (T + gap), C * (T + gap), 3)[:-gap, :-gap]


def _tile(m, size=28):
    """A (h, w) map enlarged to (size, size) by repeating pixels (h divides size): no smoothing."""
    return np.kron(m, np.ones((size // m.shape[0], size // m.shape[1])))


def maps_grid(maps, row_images, row_labels, title, note, cmap="viridis"):
    """A grid of feature maps: one row per digit (or class), one column per filter.

    maps: (R, h, w, F); row_images: (R, 28, 28, 1) shown in the first column; row_labels: R strings.
    Each filter's column has one colour scale over its R maps (0 .. the column's largest value),
    so a filter's response can be compared between rows; the scale is written under the column.
    Maps are enlarged to 28x28 by repeating pixels, so a cell of a 7x7 map is a 4x4 block.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    R, h, w, F = maps.shape
    colour = matplotlib.colormaps[cmap]
    tiles = np.zeros((R, F + 1, 28, 28, 3))
    tiles[:, 0] = np.repeat(np.clip(row_images, 0, 1), 3, axis=-1)      # the input in gray
    tops = []
    for f in range(F):
        lo, hi = min(0.0, float(maps[..., f].min())), float(maps[..., f].max())
        tops.append(hi)
        for r in range(R):
            scaled = (maps[r, :, :, f] - lo) / (hi - lo) if hi > lo else np.zeros((h, w))
            tiles[r, f + 1] = colour(_tile(scaled))[..., :3]
    fig = new_figure(0.62 * (F + 1) + 1.6, 0.62 * R + 1.0)
    ax = fig.subplots()
    ax.imshow(mosaic(tiles), interpolation="nearest")
    step = 30
    ax.set_yticks(np.arange(R) * step + 13.5, row_labels, fontsize=8)
    ax.set_xticks(np.arange(F + 1) * step + 13.5, ["input"] + [f"f{f}\n{t:.2g}" for f, t in enumerate(tops)],
                  fontsize=7)
    for label, t in zip(ax.get_xticklabels()[1:], tops):
        label.set_color("black" if t > 0 else "red")
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xlabel("filter fk, with the largest value of its column (red: the filter never responds)", fontsize=8)
    cbar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, shrink=0.7, ticks=[0, 1])
    cbar.ax.set_yticklabels(["0", "column\nmax"], fontsize=7)
    set_title(fig, title)
    add_note(fig, note + "; colours: each filter's column on its own scale, from 0 to the column's largest value")
    return fig


def dense_figure(digits, labels, hidden, probs, title):
    """The dense part for a few digits: the hidden Dense layer after its ReLU, and the softmax output.

    digits: (R, 28, 28, 1); hidden: (R, units); probs: (R, 10).
    """
    R = len(digits)
    fig = new_figure(12, 0.42 * R + 1.6)
    grid = fig.add_gridspec(1, 3, width_ratios=[0.6, hidden.shape[1], 10])
    ax0 = fig.add_subplot(grid[0])
    ax0.imshow(np.concatenate(list(digits[..., 0]), axis=0), cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax0.set_xticks([])
    ax0.set_yticks(np.arange(R) * 28 + 14, labels, fontsize=7)
    ax0.set_title("input", fontsize=8)
    for g, values, name, label in ((grid[1], hidden, "fc1 + ReLU: the 25 hidden units", "activation"),
                                   (grid[2], probs, "softmax output", "probability")):
        ax = fig.add_subplot(g)
        im = ax.imshow(values, cmap="viridis", aspect="auto", vmin=0)
        ax.set_yticks([])
        ax.set_xticks(range(values.shape[1]), [str(j) for j in range(values.shape[1])], fontsize=6)
        ax.set_xlabel("unit" if values is hidden else "class")
        ax.set_title(name, fontsize=8)
        fig.colorbar(im, ax=ax, shrink=0.8).set_label(label, fontsize=7)
    set_title(fig, title)
    return fig


def image_rows(rows, column_titles, title, note):
    """Generated images side by side: rows = settings, columns = targets.

    rows: {row label: (C, 28, 28, 1) images in [0, 1]}; shown on the fixed scale 0 (black) .. 1 (white),
    the network's input range, so the rows can be compared.
    """
    R, C = len(rows), len(column_titles)
    tiles = np.stack([np.repeat(np.clip(images[:C], 0, 1), 3, axis=-1) for images in rows.values()])
    fig = new_figure(0.75 * C + 2.4, 0.75 * R + 0.9)
    ax = fig.subplots()
    ax.imshow(mosaic(tiles), interpolation="nearest")
    ax.set_yticks(np.arange(R) * 30 + 13.5, list(rows), fontsize=7)
    ax.set_xticks(np.arange(C) * 30 + 13.5, column_titles, fontsize=7)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    set_title(fig, title)
    add_note(fig, note + "; pixels on the input's scale: black = 0, white = 1")
    return fig


def first_of_each_class(y, per_class):
    """Indices of the first ``per_class`` images of each class, ordered example by example
    (row r holds the r-th example of classes 0..K-1): (per_class * K,)."""
    return np.array([np.nonzero(y == k)[0][r] for r in range(per_class) for k in range(K)])


def corr(a, b):
    """Pearson correlation of two arrays (0 when one of them is constant)."""
    a, b = np.ravel(a) - np.mean(a), np.ravel(b) - np.mean(b)
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


# %% [markdown]
# ## Part 1 — the CNN and its filter activation statistics
#
# `pw11_cnn` (`labs/architectures.py`): three convolution layers L1–L3 (9, 9
# and 16 filters, ReLU, 2×2 max pooling) and a dense part (Dense 25 + ReLU,
# Dense 10 softmax). Few filters per layer on purpose: the statistics colour
# every pixel by its most active filter, and a dozen colours can still be
# told apart. Two seeds: the document says to train again when no clear
# pattern appears; we train twice and show both.

# %%
TRAIN = dict(data=data, batch_size=S["batch_size"], test_each_epoch=True)
SEEDS = lab.seeds
cnn = {k: lab.train(f"p1-cnn-seed{k}", "pw11_cnn", epochs=S["epochs"], seeds=[k], **TRAIN) for k in SEEDS}
models = {k: g.model(k) for k, g in cnn.items()}
summary = models[SEEDS[0]].summary(print_fn=None)

table = ["| seed | train accuracy | test accuracy | test loss | best test accuracy (epoch) | time per epoch |",
         "|---|---|---|---|---|---|"]
for k, g in cnn.items():
    r = g.results[0]
    best = int(np.argmax(r["history"]["test_accuracy"]))
    table.append(f"| {k} | {r['train_accuracy']:.4f} | {r['test_accuracy']:.4f} | {r['test_loss']:.4f} | "
                 f"{r['history']['test_accuracy'][best]:.4f} ({best + 1}) | {r['time_per_epoch_s']:.0f} s |")
    lab.answer(f"p1-test-accuracy-seed{k}", r["test_accuracy"])
    lab.answer(f"p1-train-accuracy-seed{k}", r["train_accuracy"])
test_accs = [g.results[0]["test_accuracy"] for g in cnn.values()]
lab.md("## Part 1 — understanding the CNN with filter activation statistics\n\n### The network and its training\n\n"
       f"Adam (learning rate 1e-3), categorical cross-entropy, {S['epochs']} epochs, batches of "
       f"{S['batch_size']}, seeds {', '.join(map(str, SEEDS))}. L1, L2, L3 below are the outputs of the three "
       f"convolution layers after their ReLU (`relu1`, `relu2`, `relu3`: 28×28, 14×14 and 7×7 maps).\n\n"
       f"```\n{summary}\n```\n\n" + "\n".join(table) + "\n\n"
       f"Train accuracy is the network evaluated on all training images after the last epoch. Test accuracy "
       f"over the seeds: {fmt_mean_std(test_accs, digits=2)}.")
lab.figure(curves_figure({f"seed {k}": g for k, g in cnn.items()}, "pw11_cnn on MNIST: learning curves"),
           "p1_learning_curves.png", "Loss and accuracy per epoch on the training images (solid) and the test "
           "set (dashed), both seeds.")
for k, model in models.items():
    cm = inspect.confusion_matrix(model, x_test, y_test)
    lab.figure(viz.confusion_matrix_figure(cm, NAMES, title=f"pw11_cnn seed {k}: confusion matrix on the "
                                           f"{len(x_test):,} test images"),
               f"p1_confusion_seed{k}.png", f"Confusion matrix of seed {k} on the test set (rows: true digit, "
               f"columns: predicted digit).")
    off = cm - np.diag(np.diag(cm))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    lab.md(f"Seed {k}: {int(off.sum())} of {len(x_test):,} test digits misclassified; the most frequent "
           f"confusion is a true {NAMES[i]} predicted as {NAMES[j]} ({int(off[i, j])} times).")
    lab.answer(f"p1-most-confused-seed{k}", f"{NAMES[i]}->{NAMES[j]}")

# %% [markdown]
# ### Activations of every layer for sample digits
#
# One test digit of each class; the maps of the three conv layers (after
# their ReLU), then the dense part (the 25 hidden units and the softmax).

# %%
CONV_LAYERS = {"L1": ("relu1", "conv1"), "L2": ("relu2", "conv2"), "L3": ("relu3", "conv3")}
model = models[SEEDS[0]]
samples = first_of_each_class(y_test, 1)
acts = inspect.activations(model, x_test[samples], layers=["relu1", "relu2", "relu3", "relu4", "dense"])
sample_labels = [f"digit {NAMES[y_test[i]]}" for i in samples]
lab.md(f"### Activations of every layer for sample digits (seed {SEEDS[0]})\n\n"
       "The first test digit of each class. For each convolution layer, one row per digit and one column per "
       "filter: the filter's output map after the ReLU. Each filter's column has its own colour scale, the same "
       "for all ten digits, so a column shows which digits excite that filter and where.")
for name, (relu, _) in CONV_LAYERS.items():
    a = acts[relu]
    lab.figure(maps_grid(a, x_test[samples], sample_labels,
                         f"{name} ({relu}, {a.shape[1]}×{a.shape[2]}×{a.shape[3]}): every filter's output for one "
                         f"digit of each class (seed {SEEDS[0]})", "rows: digits, columns: filters after the ReLU"),
               f"p1_activations_{name}.png", f"{name}: the {a.shape[3]} filters' output maps for one test digit "
               f"of each class.")
lab.figure(dense_figure(x_test[samples], sample_labels, acts["relu4"], acts["dense"],
                        f"the dense part for the same digits (seed {SEEDS[0]})"),
           "p1_activations_dense.png", "The dense part for the same ten digits: the 25 hidden units of fc1 after "
           "their ReLU (left) and the softmax output (right).")
dead_units = int(np.sum(acts["relu4"].max(axis=0) <= 0))
lab.md(f"On these ten digits {dead_units} of the 25 hidden units stay at 0 for every digit; each digit switches "
       f"on its own combination of the others, and the softmax puts on average "
       f"{np.mean(acts['dense'][np.arange(K), y_test[samples]]):.3f} of its probability on the right class.")

# %% [markdown]
# ### Filter statistics per class
#
# `inspect.filter_statistics(model, x, y, layer)` computes, over all test
# images of each class: the average output map of every filter, and at every
# pixel the mode over the class's images of the index of the strongest
# filter. The mode is taken on the convolution's output *before* its ReLU:
# wherever some filter is active the strongest filter is the same as after
# the ReLU, but where the ReLU leaves every filter at 0 (the blank
# background) an argmax after the ReLU would return filter 0 by convention,
# a colour that means nothing.

# %%
def receptive_field(model, layer):
    """Width in input pixels of what one position of ``layer``'s output sees (rf), and the distance
    in pixels between two neighbouring positions (jump): each k-wide window adds (k - 1) * jump."""
    rf, jump = 1, 1
    for lay in model.layers:
        size = getattr(lay, "kernel_size", None) or getattr(lay, "pool_size", None)
        if size is not None:
            rf += (size[0] - 1) * jump
            jump *= lay.strides[0]
        if lay.name == layer:
            return rf, jump
    raise ValueError(f"receptive_field: no layer {layer!r}")


def pooled_images(images, size):
    """Images (K, 28, 28) averaged over blocks down to (K, size, size) (a layer's grid)."""
    b = 28 // size
    return images[:, :size * b, :size * b].reshape(len(images), size, b, size, b).mean(axis=(2, 4))


def edge_map(images):
    """Gradient magnitude of (K, h, w) images (central differences): where strokes begin and end."""
    gy, gx = np.gradient(images, axis=(1, 2))
    return np.hypot(gy, gx)


def ncm_accuracies(model, x, y, class_maps, chunk=1000):
    """Nearest-class-mean accuracies per layer: {layer: (from the profiles, from the whole maps)}.

    class_maps: {layer: (K, h, w, F)} each class's average maps. An image is given the class whose
    average is nearest (Euclidean): by its profile (each filter's mean over positions, F numbers:
    *how much* each filter responds) or by its whole maps (h*w*F numbers: also *where*).
    """
    hits = {name: np.zeros(2) for name in class_maps}
    for s in range(0, len(x), chunk):
        acts = inspect.activations(model, x[s:s + chunk], layers=list(class_maps))
        for name, M in class_maps.items():
            A = acts[name]
            for i, (a, m) in enumerate(((A.mean(axis=(1, 2)), M.mean(axis=(1, 2))),
                                        (A.reshape(len(A), -1), M.reshape(K, -1)))):
                d = (a ** 2).sum(1)[:, None] - 2 * a @ m.T + (m ** 2).sum(1)[None]
                hits[name][i] += np.sum(d.argmin(axis=1) == y[s:s + chunk])
    return {name: tuple(h / len(x)) for name, h in hits.items()}


def top(counts, n):
    """The n most frequent filters with their shares: [(filter, share), ...] from (F,) counts."""
    return [(int(f), float(counts[f] / counts.sum())) for f in np.argsort(-counts)[:n] if counts[f] > 0]


def centre_offset(maps, ink):
    """Where a filter responds relative to the digit: the mean over classes of (centre of mass of the
    filter's average map - centre of mass of the class's ink), in input pixels (dy, dx); dy < 0: above.

    maps, ink: (K, h, h) at the layer's resolution.
    """
    h = maps.shape[1]
    grid = np.mgrid[0:h, 0:h].reshape(2, -1)
    def centre(a):
        a = a.reshape(len(a), -1)
        return (a @ grid.T) / np.maximum(a.sum(axis=1, keepdims=True), 1e-12)       # (K, 2)
    return tuple((centre(maps) - centre(ink)).mean(axis=0) * (28 / h))


def where(offset):
    """(dy, dx) in pixels -> 'the top', 'the lower left', ... of the digit ('its centre' when close)."""
    dy, dx = offset
    vertical = "top" if dy < -1.5 else "bottom" if dy > 1.5 else ""
    horizontal = "left" if dx < -1.5 else "right" if dx > 1.5 else ""
    if not (vertical or horizontal):
        return "its centre"
    return "the " + (f"{'upper' if vertical == 'top' else 'lower'} {horizontal}" if vertical and horizontal
                     else vertical or horizontal)


# Synthetic probes: which simple pattern makes each filter respond most. Edges are named by where the
# ink is (MNIST: white strokes on black), so "ink below" is the top border of a stroke (or of the digit).
_DIRECTIONS = {"right": (1, 0), "lower right": (1, 1), "below": (0, 1), "lower left": (-1, 1), "left": (-1, 0),
               "upper left": (-1, -1), "above": (0, -1), "upper right": (1, -1)}
_BORDER = {"right": "a left", "lower right": "an upper-left", "below": "a top", "lower left": "an upper-right",
           "left": "a right", "upper left": "a lower-right", "above": "a bottom", "upper right": "a lower-left"}
_LINES = {"horizontal": (1, 0), "vertical": (0, 1), "rising diagonal": (1, -1), "falling diagonal": (1, 1)}


def probe_images():
    """{name: (28, 28, 1) image}: 8 half-planes of ink (edges), 4 thin lines through the centre, blank."""
    yy, xx = np.mgrid[0:28, 0:28] - 13.5
    probes = {f"edge, ink {d} ({_BORDER[d]} border)": (dx * xx + dy * yy > 0) for d, (dx, dy) in _DIRECTIONS.items()}
    probes.update({f"{o} line": np.abs(-dy * xx + dx * yy) / np.hypot(dx, dy) <= 1.2
                   for o, (dx, dy) in _LINES.items()})
    probes["blank image"] = np.zeros((28, 28), dtype=bool)
    return {k: v.astype(np.float32)[..., None] for k, v in probes.items()}


def probe_preferences(model, layer):
    """{filter: (the probe it responds to most, that response / its mean response over the probes)};
    a filter's response is the mean of its map over the central half of the positions."""
    probes = probe_images()
    a = inspect.activations(model, np.stack(list(probes.values())), layers=[layer])[layer]   # (P, h, w, F)
    h = a.shape[1]
    r = a[:, h // 4: h - h // 4, h // 4: h - h // 4].mean(axis=(1, 2))                        # (P, F)
    names = list(probes)
    return {f: (names[int(r[:, f].argmax())], float(r[:, f].max() / r[:, f].mean()) if r[:, f].mean() > 0
                else 0.0) for f in range(a.shape[-1])}


mean_images = np.stack([x_test[y_test == k, :, :, 0].mean(axis=0) for k in range(K)])  # (K, 28, 28)
d_pix = ((x_test.reshape(len(x_test), -1) ** 2).sum(1)[:, None] - 2 * x_test.reshape(len(x_test), -1)
         @ mean_images.reshape(K, -1).T + (mean_images.reshape(K, -1) ** 2).sum(1)[None])
ncm_pixels = float(np.mean(d_pix.argmin(axis=1) == y_test))
lab.answer("p1-nearest-class-mean-accuracy-pixels", ncm_pixels)
stats, numbers = {}, {}
for k, model in models.items():
    saved = {"x": x_test, "y": y_test}
    for name, (relu, conv) in CONV_LAYERS.items():
        means = inspect.filter_statistics(model, x_test, y_test, relu)   # mean outputs after the ReLU
        modes = inspect.filter_statistics(model, x_test, y_test, conv)   # argmax before the ReLU
        stats[k, name] = (means, modes)
        saved.update({f"{name}/mean_maps": means.mean_maps, f"{name}/mode_maps": modes.mode_maps,
                      f"{name}/relu_mode_maps": means.mode_maps})
    ncm = ncm_accuracies(model, x_test, y_test, {relu: stats[k, name][0].mean_maps
                                                 for name, (relu, _) in CONV_LAYERS.items()})
    for name, (relu, conv) in CONV_LAYERS.items():
        means, modes = stats[k, name]
        m = means.mean_activation                                          # (K, F)
        F, h = m.shape[1], means.mean_maps.shape[1]
        ink = pooled_images(mean_images, h)                                # (K, h, h)
        on_ink = ink > 0.25 * ink.max(axis=(1, 2), keepdims=True)          # the digit's strokes at this layer
        stroke = np.bincount(np.concatenate([modes.mode_maps[c][on_ink[c]] for c in range(K)]), minlength=F)
        blank = np.bincount(np.concatenate([modes.mode_maps[c][~on_ink[c]] for c in range(K)]), minlength=F)
        per_class = [np.bincount(modes.mode_maps[c][on_ink[c]], minlength=F) / on_ink[c].sum() for c in range(K)]
        used = np.array(per_class) >= 0.10                                 # (K, F): wins 10 % of the strokes
        majority = np.array([[np.bincount(modes.mode_maps[:, i, j], minlength=F).max() for j in range(h)]
                             for i in range(h)])                           # digits sharing the commonest mode
        common = np.array([[np.bincount(modes.mode_maps[:, i, j], minlength=F).argmax() for j in range(h)]
                           for i in range(h)])
        r_ink = np.array([[corr(means.mean_maps[c, :, :, f], ink[c]) for c in range(K)] for f in range(F)])
        r_edge = np.array([[corr(means.mean_maps[c, :, :, f], edge_map(ink)[c]) for c in range(K)]
                           for f in range(F)])
        silent = m.max(axis=0) <= 0
        class_corr = np.corrcoef(m[:, ~silent]) if (~silent).sum() > 1 else np.ones((K, K))
        # profiles with each filter standardised over the classes: what differs between digits, without the
        # amount of ink that scales every filter alike
        z = (m[:, ~silent] - m[:, ~silent].mean(axis=0)) / np.maximum(m[:, ~silent].std(axis=0), 1e-12)
        pattern_corr = np.corrcoef(z) if z.shape[1] > 1 else np.ones((K, K))
        offsets = {f: centre_offset(means.mean_maps[..., f], ink) for f in range(F) if not silent[f]}
        numbers[k, name] = dict(
            F=F, size=h, silent=int(silent.sum()), class_corr=class_corr, pattern_corr=pattern_corr,
            ink_corr=corr(m.mean(axis=1), mean_images.mean(axis=(1, 2))), offsets=offsets,
            darkest=NAMES[int(np.argmin((m / np.maximum(m.max(axis=0), 1e-12)).mean(axis=1)))],
            least_ink=NAMES[int(np.argmin(mean_images.mean(axis=(1, 2))))],
            profile_corr=float(class_corr[~np.eye(K, dtype=bool)].mean()),
            selectivity=float(np.mean((m.max(axis=0) / np.where(m.sum(axis=0) > 0, m.sum(axis=0), 1))[~silent])),
            ncm_profile=ncm[relu][0], ncm_maps=ncm[relu][1],
            agreement=float(np.mean(majority) / K),
            differing={NAMES[c]: int(np.sum(modes.mode_maps[c] != common)) for c in range(K)},
            shared=[int(f) for f in np.nonzero(used.sum(axis=0) >= 8)[0]],
            stroke=top(stroke, 3), blank=top(blank, 3),
            probe=probe_preferences(model, relu),
            ink_filters=int(np.sum((r_ink.mean(axis=1) > 0.3) & (r_ink.mean(axis=1) >= r_edge.mean(axis=1)))),
            edge_filters=int(np.sum((r_edge.mean(axis=1) > 0.3) & (r_edge.mean(axis=1) > r_ink.mean(axis=1)))),
            anti_filters=int(np.sum(r_ink.mean(axis=1) < -0.3)),
            relu_tie=float(np.mean(means.mode_maps != modes.mode_maps)),
        )
    np.savez_compressed(lab.out / f"p1-statistics-seed{k}.npz", **saved)  # what the figures show (tests read it)

# %%
def layer_row(n, name):
    return (f"| {name} | {n['size']}×{n['size']}×{n['F']} | {n['silent']} | {n['profile_corr']:.2f} | "
            f"{n['ink_corr']:.2f} | "
            f"{n['selectivity']:.2f} | {n['ncm_profile']:.1%} | {n['ncm_maps']:.1%} | {n['agreement']:.0%} | "
            f"{', '.join(map(str, n['shared'])) or '-'} | {n['ink_filters']} / {n['edge_filters']} / "
            f"{n['anti_filters']} |")


lab.md("### Filter activation statistics per class\n\n"
       f"Over all {len(x_test):,} test images (about {len(x_test) // K:,} per digit). For each layer and seed two "
       "figures: the average output map of every filter for every digit (rows: classes, columns: filters), and "
       "`viz.filter_statistics_figure`: on top the average output of each filter per class (the maps averaged "
       "over positions, each filter scaled to its largest class average), below, per digit, the filter most "
       "often the strongest at each pixel (the mode, one colour per filter, the colour bar lists the filter "
       "indices).\n\n"
       "The mode is taken on the convolution's output *before* its ReLU: wherever some filter is active the "
       "strongest filter is the same as after the ReLU, but where the ReLU leaves every filter at 0 (much of the "
       "blank background) an argmax after the ReLU returns filter 0 by convention, a colour that means nothing. "
       "The two choices give different modes on "
       + ", ".join(f"{numbers[SEEDS[0], n]['relu_tie']:.0%} of {n}'s pixels" for n in CONV_LAYERS)
       + f" (seed {SEEDS[0]}).\n\n"
       "What the tables measure (all on the test images):\n"
       "- *silent*: filters whose output is 0 for every image (dead after the ReLU);\n"
       "- *class profile r*: the mean correlation between two digits' profiles (the rows of the statistics "
       "figure's top panel): near 1, all digits use the filters in the same proportions; *ink r*: the "
       "correlation between a digit's mean activation (over the filters) and its amount of ink (mean pixel "
       "value): near 1, the profiles differ mostly by how much ink the digit has;\n"
       "- *selectivity*: for each filter, the share of its summed class averages that its favourite digit takes "
       "(0.1 = all ten digits alike, 1 = one digit only), averaged over the filters;\n"
       "- *nearest class mean*: the accuracy of giving each test image the class whose average is nearest to "
       "its own, from the profile (one number per filter: *how much* each filter responds) or from the whole maps "
       f"(also *where*); from the raw pixels (the class-mean images) it is {ncm_pixels:.1%};\n"
       "- *mode agreement*: at each position, the share of the 10 digits whose mode filter is the commonest one "
       "there, averaged over the positions (100 %: every digit has the same colour map; the colour then depends "
       "on the position in the frame, not on the digit);\n"
       "- *shared*: filters that are the mode on at least 10 % of the stroke pixels of 8 or more digits (stroke "
       "pixels: where the class-mean image, pooled to the layer's grid, exceeds a quarter of its maximum);\n"
       "- *ink / edge / inverse*: filters whose average maps correlate (r > 0.3, averaged over digits) with the "
       "class-mean image (they fire on the strokes), with its gradient magnitude (on the borders of strokes), or "
       "negatively with the image (r < -0.3: on the blank around the digit).")
for k in SEEDS:
    rows = ["| layer | maps | silent | class profile r | ink r | selectivity | nearest class mean: profile | "
            "nearest class mean: maps | mode agreement | shared filters | ink / edge / inverse |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows += [layer_row(numbers[k, name], name) for name in CONV_LAYERS]
    lab.md(f"#### Seed {k}\n\n" + "\n".join(rows))
    for name, (relu, conv) in CONV_LAYERS.items():
        means, modes = stats[k, name]
        n = numbers[k, name]
        lab.figure(maps_grid(means.mean_maps, mean_images[..., None], [f"class {c}" for c in NAMES],
                             f"seed {k}, {name} ({relu}): average output of every filter over the test images of "
                             f"each class", "rows: classes (left: the class's mean image), columns: filters"),
                   f"p1_mean_maps_{name}_seed{k}.png", f"Seed {k}, {name}: the average output map of each filter "
                   f"over the test images of each digit.")
        lab.figure(viz.filter_statistics_figure(means.mean_activation, modes.mode_maps, NAMES, normalize="filter",
                                                title=f"seed {k}, {name}: which filters each digit uses "
                                                      f"({relu} averages; mode of the argmax of {conv})"),
                   f"p1_statistics_{name}_seed{k}.png", f"Seed {k}, {name}: average output per filter and class "
                   f"(top) and, per digit, the most frequent strongest filter at each pixel (bottom).")
        for key in ("profile_corr", "selectivity", "ncm_profile", "ncm_maps", "agreement"):
            lab.answer(f"p1-{key.replace('_', '-')}-{name}-seed{k}", n[key])

# %% [markdown]
# ### What the statistics show

# %%
RF = {name: receptive_field(models[SEEDS[0]], relu) for name, (relu, _) in CONV_LAYERS.items()}
seed_agree = {name: corr(numbers[SEEDS[0], name]["pattern_corr"][~np.eye(K, dtype=bool)],
                         numbers[SEEDS[-1], name]["pattern_corr"][~np.eye(K, dtype=bool)])
              for name in CONV_LAYERS} if len(SEEDS) > 1 else {}


def who(n, winners):
    """'filter 4 (38 % of them; strongest on: edge, ink below)' for each (filter, share)."""
    return "; ".join(f"filter {f} ({share:.0%}; strongest on: {n['probe'][f][0]})" for f, share in winners)


def similar_pair(n):
    """The two digits whose filter profiles (each filter standardised over the classes) are most alike."""
    c = n["pattern_corr"].copy()
    np.fill_diagonal(c, -np.inf)
    i, j = np.unravel_index(np.argmax(c), c.shape)
    return f"{NAMES[i]} and {NAMES[j]} (r = {c[i, j]:.2f})"


def placed(n, limit=4):
    """'filter 5 at the top (-4.1, +0.3 px)' for the filters that respond away from the digit's centre."""
    far = sorted(n["offsets"].items(), key=lambda kv: -np.hypot(*kv[1]))
    return "; ".join(f"filter {f} at {where(o)} ({o[0]:+.1f}, {o[1]:+.1f} px)" for f, o in far[:limit]
                     if where(o) != "its centre") or "none"


def describe(k):
    n1, n2, n3 = (numbers[k, name] for name in CONV_LAYERS)
    odd = max(n3["differing"], key=n3["differing"].get)
    plain = min(n3["differing"], key=n3["differing"].get)
    edges2 = {n2["probe"][f][0] for f, _ in n2["blank"] if n2["probe"][f][0].startswith("edge")}
    maps_rise = n1["ncm_maps"] < n2["ncm_maps"] < n3["ncm_maps"]
    common3 = n3["agreement"] >= 0.7
    blank2 = ("The filters that win around the digit respond most to edges with the ink on different sides ("
              + "; ".join(sorted(edges2)) + "): a position is now described by *where the ink lies around it*, so "
              "the mode maps draw the digit as a silhouette with its surroundings split by direction."
              if len(edges2) >= 2 else "The blank around the digit is mostly one filter.")
    patchwork = ("the mode maps are mostly one patchwork common to all digits, in which the colour says *where in "
                 "the frame* a cell lies" if common3 else
                 "part of each mode map is common to all digits (the colour says where in the frame a cell lies), "
                 "the rest differs from digit to digit")
    trend = ("rising with depth" if maps_rise else "about the same at every depth: a template match per class is "
             "too crude to see what the layers add, which the dense part, a learned classifier, uses")
    return f"""#### Seed {k}

**L1 ({n1['size']}×{n1['size']}, each position sees {RF['L1'][0]}×{RF['L1'][0]} pixels).** The background has
one colour: filter {n1['blank'][0][0]} wins on {n1['blank'][0][1]:.0%} of the non-stroke pixels. The strokes are split
into bands along their sides; the most frequent winners on stroke pixels: {who(n1, n1['stroke'])}. The same
colours lie on the same side of the strokes in all ten digits ({len(n1['shared'])} filter(s) win on the strokes of 8
digits or more: {', '.join(map(str, n1['shared'])) or 'none'}): L1 detects the borders of strokes by their
orientation, pieces that every digit is made of. Hence all digits use the L1 filters in nearly the same proportions
(class profile r = {n1['profile_corr']:.2f}; the top panel mostly shows how much ink each digit has, ink r =
{n1['ink_corr']:.2f}; the darkest row is the {n1['darkest']}, the digit with the least ink is the
{n1['least_ink']}), and
the L1 profile alone finds the class of only
{n1['ncm_profile']:.1%} of the test digits.

**L2 ({n2['size']}×{n2['size']}, {RF['L2'][0]}×{RF['L2'][0]} pixels per position).** On the strokes:
{who(n2, n2['stroke'])}.
Around the digit: {who(n2, n2['blank'])}. {blank2}
In the average maps (rows: digits) several L2 filters respond on one part of every digit: {placed(n2)} (offset of
the filter's average map from the centre of the digit's ink, averaged over the digits; dy < 0 is above) — a top
bar, a bottom curve, a side stroke, wherever each digit has it. Mode agreement between digits:
{n2['agreement']:.0%}. The two digits with the most alike L2 patterns: {similar_pair(n2)}.

**L3 ({n3['size']}×{n3['size']}, {RF['L3'][0]}×{RF['L3'][0]} pixels per position, most of a 20×20 digit).** Mode
agreement {n3['agreement']:.0%}: {patchwork}.
On the strokes: {who(n3, n3['stroke'])}; around them: {who(n3, n3['blank'])}. A digit shows itself in the cells
where its winner differs from the commonest one: digit {odd} in {n3['differing'][odd]} of 49 cells, digit {plain}
in {n3['differing'][plain]}. Filters placed on one part of the digit: {placed(n3)}. L3's maps are a coarse map of
where parts of the digit lie; the class is in their arrangement: from the whole maps the nearest class mean finds
{n3['ncm_maps']:.1%} of the digits, from the 16 filter averages alone {n3['ncm_profile']:.1%}. Most alike in L3:
{similar_pair(n3)}.

**From layer to layer.** Nearest class mean from the whole maps: pixels {ncm_pixels:.1%}, L1 {n1['ncm_maps']:.1%},
L2 {n2['ncm_maps']:.1%}, L3 {n3['ncm_maps']:.1%} ({trend});
from the profiles only: {n1['ncm_profile']:.1%}, {n2['ncm_profile']:.1%}, {n3['ncm_profile']:.1%}. What the filters
share between digits is their *kind* (stroke borders in L1, the silhouette and stroke parts in L2, coarse parts in
L3); what tells digits apart is *where* each kind lies, which the dense part reads from the flattened maps."""


lab.md("### What the statistics show\n\nRead from the mode maps and average maps above, with the numbers that "
       "back each statement (the filter indices are those of the figures; 'strongest on' is the synthetic pattern — "
       "an edge with ink on one side, a thin line, a blank image — that the filter responds to most, measured on "
       "the centre of its map).\n\n" + "\n\n".join(describe(k) for k in SEEDS)
       + (f"""

**Two seeds.** The filters of two trainings are not the same filters (their order is arbitrary, and each training
finds its own set), so the colours of the two seeds' figures cannot be matched one to one. What can be compared is
which digits look alike to a layer: the correlation between the two seeds' digit-to-digit similarity matrices is
{', '.join(f'{name} {r:.2f}' for name, r in seed_agree.items())}, and the measures of the tables above (agreement,
nearest class mean, ink / edge filters) are close between the seeds (the similarity matrices use each filter's
profile standardised over the digits).""" if seed_agree else ""))
for name, r in seed_agree.items():
    lab.answer(f"p1-seed-agreement-{name}", r)
n2, n3 = numbers[SEEDS[0], "L2"], numbers[SEEDS[0], "L3"]
lab.answer("p1-l2-represents", f"silhouette and stroke parts at {n2['size']}x{n2['size']}: strokes won by filter "
                               f"{n2['stroke'][0][0]}, the blank by {len(n2['blank'])} direction filters")
lab.answer("p1-l3-represents", f"a coarse {n3['size']}x{n3['size']} map of digit parts: {n3['agreement']:.0%} of "
                               f"cells share their winner across 8+ digits; class in the arrangement "
                               f"(nearest class mean {n3['ncm_maps']:.1%})")

# %% [markdown]
# ## Part 2 — activation maximization
#
# `inspect.activation_maximization(model, layer, index, ...)` climbs the
# gradient of one activation with respect to the input image. On the
# network's last layer the target is the class score *before* the softmax
# (keras-vis swaps the softmax for a linear activation for the same reason);
# the measurement below shows why.

# %%
model = models[SEEDS[0]]
STEPS = S["am_steps"]
MAIN = STEPS[-1]
CLASS_TITLES = [f"class {c}" for c in NAMES]
REG = dict(l2=0.05, total_variation=0.1, jitter=1, blur_every=4, blur_sigma=0.5)   # inspect's defaults
NONE = dict(l2=0.0, total_variation=0.0, jitter=0, blur_every=0)


def maximize(layer, index, steps=MAIN, start="noise", seed=0, net=None, **reg):
    img, history = inspect.activation_maximization(net or model, layer, index, steps=steps, start=start,
                                                   seed=seed, **reg)
    return img, history


def softmax_gradient_ratio(net, x, classes):
    """||d p_c / dx|| / ||d z_c / dx|| for each image and its class c (p: softmax, z: logits).

    d p_c / dx = p_c (g_c - sum_j p_j g_j), with g_j = d z_j / dx (one backward pass per class j).
    """
    n = len(x)
    p = net.predict(x)
    g = inspect.input_gradient(net, np.repeat(x, K, axis=0), np.tile(np.arange(K), n)).reshape(n, K, -1)
    gc = g[np.arange(n), classes]
    dp = p[np.arange(n), classes][:, None] * (gc - np.einsum("nj,njd->nd", p, g))
    return np.linalg.norm(dp, axis=1) / np.maximum(np.linalg.norm(gc, axis=1), 1e-12), p[np.arange(n), classes]


def measure(img, history):
    """What a row of class images achieves: score, probability, how digit-like and how rough it is."""
    probs = model.predict(img)
    return dict(logit=float(history[-1].mean()), prob=float(probs[np.arange(K), np.arange(K)].mean()),
                correct=int(np.sum(probs.argmax(axis=1) == np.arange(K))),
                like_digit=float(np.mean([corr(img[c, ..., 0], mean_images[c]) for c in range(K)])),
                tv=float(inspect.total_variation(img).mean() / (28 * 28)), images=img)


# (row label, regularizers, start, steps): the step counts for the two main recipes, then each
# regularizer alone, then the blank start
experiments = [(f"{label}, from noise", reg, "noise", steps) for label, reg in
               (("no regularizer", NONE), ("L2 + TV + jitter + blur", REG)) for steps in STEPS]
experiments += [(label, reg, "noise", MAIN) for label, reg in
                (("L2 only, from noise", dict(NONE, l2=REG["l2"])),
                 ("total variation only, from noise", dict(NONE, total_variation=REG["total_variation"])),
                 ("jitter only, from noise", dict(NONE, jitter=REG["jitter"])))]
experiments += [(f"{label}, from blank", reg, "zeros", MAIN) for label, reg in
                (("no regularizer", NONE), ("L2 + TV + jitter + blur", REG))]
rows, measures = {}, {}
for label, reg, begin, steps in experiments:
    img, history = maximize("dense", list(range(K)), steps=steps, start=begin, **reg)
    rows[f"{label}\n{steps} steps"] = img
    measures[f"{label}, {steps} steps"] = measure(img, history)
lab.figure(image_rows(rows, CLASS_TITLES,
                      f"seed {SEEDS[0]}: the input that maximises each class's score (pre-softmax), with and without "
                      f"regularizers, from noise and from a blank image, {', '.join(map(str, STEPS))} steps",
                      f"rows: settings (L2 weight {REG['l2']}, total variation {REG['total_variation']}, jitter "
                      f"{REG['jitter']} pixel, Gaussian blur sigma {REG['blur_sigma']} every {REG['blur_every']} "
                      f"steps; "
                      f"step size 0.05); columns: the class maximised"),
           "p2_classes.png", "Activation maximization of the ten class scores: each row is one setting, each "
           "column one class.")

# the softmax question, measured: on the generated images and on real, confidently classified test digits
reg_images = measures[f"L2 + TV + jitter + blur, from noise, {MAIN} steps"]["images"]
ratio_gen, p_gen = softmax_gradient_ratio(model, reg_images, np.arange(K))
real = np.nonzero(model.predict(x_test[:200]).argmax(axis=1) == y_test[:200])[0][:50]
ratio_real, p_real = softmax_gradient_ratio(model, x_test[real], y_test[real])
confident = p_real >= 0.99
lab.answer("p2-softmax-gradient-ratio-generated", float(np.median(ratio_gen)))
lab.answer("p2-softmax-gradient-ratio-confident-digits", float(np.median(ratio_real[confident])) if confident.any()
           else None)

table = ["| setting | mean final score (logit) | mean probability of the class | images classified as their class "
         "| correlation with the class's mean digit | roughness (TV per pixel) |", "|---|---|---|---|---|---|"]
for label, m in measures.items():
    table.append(f"| {label} | {m['logit']:.1f} | {m['prob']:.3f} | {m['correct']} / {K} | {m['like_digit']:.2f} | "
                 f"{m['tv']:.3f} |")
    lab.answer(f"p2-class-probability-{label.replace(' ', '-').replace(',', '').replace('+', 'and')}", m["prob"])
plain = measures[f"no regularizer, from noise, {MAIN} steps"]
regd = measures[f"L2 + TV + jitter + blur, from noise, {MAIN} steps"]
blank_noise = np.mean([corr(measures[f"L2 + TV + jitter + blur, from blank, {MAIN} steps"]["images"][c],
                            regd["images"][c]) for c in range(K)])
blank_noise_plain = np.mean([corr(measures[f"no regularizer, from blank, {MAIN} steps"]["images"][c],
                                  plain["images"][c]) for c in range(K)])
lab.answer("p2-noise-vs-blank-correlation-regularized", float(blank_noise))
lab.answer("p2-noise-vs-blank-correlation-plain", float(blank_noise_plain))
lab.md("## Part 2 — activation maximization\n\n### The class outputs\n\n"
       "`inspect.activation_maximization(model, 'dense', range(10))` starts from gray noise (or a blank, all-zero "
       "image) and takes gradient steps on the *pre-softmax* score of each class; the step is the gradient divided "
       "by its root-mean-square (so that one step size suits every target), minus the regularizers' gradients, "
       "and the pixels are clipped to [0, 1], the range of real inputs.\n\n"
       "**Why the softmax is swapped out.** The probability p_c = exp(z_c) / Σ_j exp(z_j) can be raised by "
       "*lowering the other classes' scores* instead of making the image look more like class c, and its gradient "
       "p_c (∇z_c − Σ_j p_j ∇z_j) vanishes once the network is confident. Measured on seed "
       f"{SEEDS[0]}: on the ten regularized class images (mean probability {p_gen.mean():.3f}) the gradient of the "
       f"probability is {np.median(ratio_gen):.2g} times as large as that of the score (median); on "
       f"{int(confident.sum())} test digits classified with p ≥ 0.99 it is "
       + (f"{np.median(ratio_real[confident]):.2g} times as large" if confident.any() else "not measurable (none)")
       + ": an ascent on the probability would stall as soon as the image is classified, long before it shows "
       "what the class looks like to the network. keras-vis does the same swap (`utils.apply_modifications` with a "
       "linear last activation).\n\n"
       + "\n".join(table) + "\n\n"
       f"Without regularizer the images reach higher scores ({plain['logit']:.1f} against {regd['logit']:.1f}) and "
       f"are classified as their class {plain['correct']} times out of {K}, yet look less like digits (correlation "
       f"with the class's mean digit {plain['like_digit']:.2f}, against {regd['like_digit']:.2f} with the "
       f"regularizers) and are rougher (TV {plain['tv']:.3f} against {regd['tv']:.3f}): the network accepts "
       f"scattered, saturated pixels as a digit. The regularizers act together: each alone changes the images "
       f"little (rows 'L2 only', 'total variation only', 'jitter only'). More steps raise the score "
       + " → ".join(f"{measures[f'L2 + TV + jitter + blur, from noise, {n} steps']['logit']:.1f}" for n in STEPS)
       + f" (regularized, {' / '.join(map(str, STEPS))} steps) while the picture changes less and less. "
       f"From a blank image and from noise the ascent ends in "
       + ("nearly the same images" if blank_noise > 0.8 else "different images")
       + f" with the regularizers (mean correlation {blank_noise:.2f} between the two starts) and "
       + ("nearly the same" if blank_noise_plain > 0.8 else "different")
       + f" ones without ({blank_noise_plain:.2f}).")

# %% [markdown]
# ### Filters of each conv layer and units of the dense layer
#
# A filter's target is the mean of its map over all positions, after its
# ReLU (as keras-vis does on a `Conv2D(..., activation="relu")` layer); one
# row shows the same target *before* the ReLU, a trap: there, an L1 filter's
# mean is linear in the image. A unit's target is the output of the hidden
# Dense layer `fc1` before its ReLU.

# %%
n_filters = S["am_filters"]
filter_rows, flat = {}, {}
targets = [("L1 before its ReLU (conv1)", "conv1"), ("L1 (relu1)", "relu1"), ("L2 (relu2)", "relu2"),
           ("L3 (relu3)", "relu3"), ("dense fc1 (before its ReLU)", "fc1")]
for label, layer in targets:
    img, history = maximize(layer, list(range(n_filters)), **REG)
    filter_rows[label] = img
    flat[label] = (float(np.mean(img.reshape(n_filters, -1).std(axis=1) < 0.05)), float(np.mean(history[-1] <= 0)))
lab.figure(image_rows(filter_rows, [f"filter / unit {j}" for j in range(n_filters)],
                      f"seed {SEEDS[0]}: the input that maximises the mean output of the first {n_filters} filters of "
                      f"each conv layer and of {n_filters} hidden units of fc1",
                      f"{MAIN} steps from noise with L2 + total variation + jitter + blur; rows: layers, columns: "
                      "filter or unit index"),
           "p2_filters_and_units.png", "Activation maximization of conv filters (L1, L2, L3) and hidden dense units.")
lab.figure(viz.filter_grid(model.get_layer("conv1").params["kernel"].value, ncols=9,
                           title=f"seed {SEEDS[0]}: the nine 5×5 kernels of L1 (conv1)"),
           "p2_conv1_kernels.png", "The first layer's kernels, to compare with its maximizing images.")
lab.answer("p2-uniform-images-conv1-before-relu", flat["L1 before its ReLU (conv1)"][0])
kernel_sums = model.get_layer("conv1").params["kernel"].value[..., :n_filters].sum(axis=(0, 1, 2))
relu1_images = filter_rows["L1 (relu1)"]
white = relu1_images.reshape(n_filters, -1).std(axis=1) < 0.05
positive = kernel_sums > 0
lab.md("### Filters of each conv layer and hidden units of the dense part\n\n"
       f"The first {n_filters} filters of each convolution layer and the first {n_filters} hidden units of `fc1`, "
       f"{MAIN} steps from noise with all regularizers. The table gives, per row, the share of images that are "
       "nearly uniform (pixel standard deviation below 0.05) and the share of targets still at or below 0 at the "
       "end (a ReLU that never opened gives no gradient).\n\n"
       "| target | uniform images | targets still ≤ 0 |\n|---|---|---|\n"
       + "\n".join(f"| {label} | {u:.0%} | {z:.0%} |" for label, (u, z) in flat.items()) + "\n\n"
       "**A trap, first row.** Before its ReLU, the mean of an L1 map over all positions is (nearly, up to the "
       "borders) the sum of the kernel's weights times the mean pixel, plus the bias: a linear function of the "
       "image's brightness, maximised by a uniformly white (positive sum) or black (negative sum) image, which says "
       "nothing about the filter. After the ReLU each position counts only where the filter responds, and the "
       "best image repeats the kernel's pattern wherever it can: "
       f"{int((~white).sum())} of the {n_filters} L1 images are textures of one stroke orientation (compare with "
       f"the kernels); {int(white.sum())} are still uniform, for filters whose weights sum to "
       + ("a positive number (all of them here)" if white.any() and positive[white].all() else
          "a positive number in " + f"{int((positive & white).sum())} of these cases")
       + " — filters that respond to ink itself, maximised by a page full of ink. L2's and L3's patterns are "
       "larger — one position sees "
       f"{RF['L2'][0]} and {RF['L3'][0]} pixels — and made of several strokes; the dense units' images are "
       "whole-image arrangements of strokes and blanks.")

# %% [markdown]
# ### What activation maximization is good for, and where it misleads

# %%
other = models[SEEDS[-1]]
seed_corr = None
if len(SEEDS) > 1:
    other_images, _ = maximize("dense", list(range(K)), net=other, **REG)
    seed_corr = float(np.mean([corr(other_images[c], regd["images"][c]) for c in range(K)]))
    lab.figure(image_rows({f"seed {SEEDS[0]}": regd["images"], f"seed {SEEDS[-1]}": other_images}, CLASS_TITLES,
                          "the same ascent on the two trained networks",
                          f"{MAIN} steps from noise, L2 + TV + jitter + blur; test accuracies "
                          + " and ".join(f"{a:.3f}" for a in test_accs)),
               "p2_two_seeds.png", "Class images of the two seeds' networks, same settings.")
    lab.answer("p2-two-seeds-image-correlation", seed_corr)
black = float(np.mean(regd["images"] < 0.05))
lab.md("### What the technique is good for, and where it misleads\n\n"
       "**Good for.** It shows what a unit or a class *responds to* without choosing the images. With the "
       f"regularizers the class images hold parts of their digit (correlation with the class-mean digit "
       f"{regd['like_digit']:.2f}, against {plain['like_digit']:.2f} without): strokes where the digit has ink, and "
       f"black where ink would speak for another digit ({black:.0%} of the pixels went from the gray start to black): "
       "the network's evidence *for* and *against* a class, drawn. It is a debugging tool: an image that raises a "
       "score without looking like the class shows features the network relies on that a human would not, and "
       "a filter's image (a texture of one stroke orientation in L1) says what it detects in one picture.\n\n"
       "**Where it misleads.** (1) The result depends on the recipe more than on the network: without "
       f"regularizer the images score higher (logit {plain['logit']:.1f} vs {regd['logit']:.1f}) but look less like "
       f"digits ({plain['like_digit']:.2f} vs {regd['like_digit']:.2f}); with them, much of what looks natural comes "
       "from the smoothness we imposed. (2) "
       + (f"The start matters: noise and blank end in different images ({blank_noise:.2f}). "
          if blank_noise <= 0.8 else f"The start matters less than the recipe here (noise and blank: "
          f"{blank_noise:.2f} with regularizers, {blank_noise_plain:.2f} without), but the result is one image among "
          f"many that score as high. ")
       + (f"(3) Two networks of nearly equal accuracy give {'different' if seed_corr < 0.5 else 'similar'} images "
          f"for the same class (correlation {seed_corr:.2f}): the images describe one network, not the digit. "
          if seed_corr is not None else "")
       + "(4) The maximum is one extreme input, not what the unit does on real digits: an L1 filter that reaches "
       "its maximum on a texture of parallel strokes sees one stroke at a time in MNIST. (5) A score of "
       f"{plain['logit']:.0f} and a probability of {plain['prob']:.3f} on images that are not digits show that the "
       "network has no notion of 'not a digit' — every input gets a class. (6) A bad target gives a meaningless "
       "image (the first row of the filter figure).")
lab.answer("p2-good-for", f"what a unit or class responds to, without choosing images (class images correlate "
                          f"{regd['like_digit']:.2f} with the mean digit)")
lab.answer("p2-misleads", f"recipe-dependent (unregularized: logit {plain['logit']:.1f}, probability "
                          f"{plain['prob']:.3f} on non-digits); one extreme input"
                          + (f"; seed-dependent (r = {seed_corr:.2f})" if seed_corr is not None else ""))

# %% [markdown]
# ## Part 3 — class activation maps
#
# `pw11_cam`: the trained network's conv layers L1–L3 (weights copied from
# seed 0's run by the runner's `init_from`), then global average pooling of
# relu3's 7×7×16 maps and one Dense softmax layer. The whole network is
# fine-tuned (the new Dense layer starts from random weights).

# %%
cam_group = lab.train("p3-cam-finetune", "pw11_cam", epochs=S["cam_epochs"], seeds=[SEEDS[0]],
                      init_from=cnn[SEEDS[0]], init_layers=["conv1", "conv2", "conv3"], **TRAIN)
cam_model = cam_group.model(SEEDS[0])
cam_r = cam_group.results[0]
orig_r = cnn[SEEDS[0]].results[0]
lab.answer("p3-cam-test-accuracy", cam_r["test_accuracy"])
lab.answer("p3-original-test-accuracy", orig_r["test_accuracy"])
change = {name: float(np.linalg.norm(cam_model.get_layer(conv).params["kernel"].value
                                     - models[SEEDS[0]].get_layer(conv).params["kernel"].value)
                      / np.linalg.norm(models[SEEDS[0]].get_layer(conv).params["kernel"].value))
          for name, (_, conv) in CONV_LAYERS.items()}
cam_l3 = inspect.filter_statistics(cam_model, x_test, y_test, "relu3")
cam_ncm = ncm_accuracies(cam_model, x_test, y_test, {"relu3": cam_l3.mean_maps})["relu3"]
n3 = numbers[SEEDS[0], "L3"]
lab.answer("p3-l3-profile-nearest-class-mean-after-finetuning", cam_ncm[0])
lab.md("## Part 3 — class activation maps\n\n### The GAP network\n\n"
       f"`pw11_cam` keeps `conv1`–`conv3` of seed {SEEDS[0]}'s network and replaces the rest (pooling, Flatten, "
       f"Dense 25, Dense 10) by global average pooling of relu3's 7×7×16 maps and Dense(10, softmax): "
       f"{cam_model.count_params():,} parameters instead of {models[SEEDS[0]].count_params():,}. Fine-tuned "
       f"{S['cam_epochs']} epoch(s), all layers trainable, Adam (learning rate 1e-3), starting from the trained "
       f"conv weights (`lab.train(..., init_from=..., init_layers=['conv1', 'conv2', 'conv3'])`; the Dense layer "
       f"starts from random weights). Test accuracy {cam_r['test_accuracy']:.4f}, against "
       f"{orig_r['test_accuracy']:.4f} for the original network.\n\n"
       f"Part 1 explains why the GAP head needs fine-tuning and not only a new last layer: averaged over the "
       f"positions, the 16 L3 filters of the original network carry little class information (nearest class mean "
       f"from the 16 averages: {n3['ncm_profile']:.1%}), because the class lay in *where* they respond. After "
       f"fine-tuning the same measure on the GAP network's L3 is {cam_ncm[0]:.1%}: the conv layers were retrained "
       f"to respond to *which digit* is there — the kernels moved by "
       + ", ".join(f"{v:.0%} ({n})" for n, v in change.items()) + " of their norm.")
lab.figure(curves_figure({"GAP network, fine-tuned": cam_group}, "pw11_cam: fine-tuning after the conv weights "
                         "were copied"),
           "p3_learning_curves.png", "Fine-tuning the GAP network: loss and accuracy per epoch.")

# %%
chosen = first_of_each_class(y_test, S["cam_per_class"])         # rows: examples, columns: classes
xs, ys = x_test[chosen], y_test[chosen]
pred_cam = inspect.predicted_classes(cam_model, xs)
pred_orig = inspect.predicted_classes(models[SEEDS[0]], xs)
cam = inspect.class_activation_map(cam_model, xs, pred_cam)          # (N, 7, 7), not rectified
gradcam_gap = inspect.grad_cam(cam_model, xs, pred_cam, layer="relu3")
gradcam = inspect.grad_cam(models[SEEDS[0]], xs, pred_orig, layer="relu3")
sal = inspect.saliency(models[SEEDS[0]], xs, pred_orig)
h, w = cam.shape[1:]
identity = float(np.abs(np.maximum(cam, 0) / (h * w) - gradcam_gap).max() / max(gradcam_gap.max(), 1e-12))
np.savez_compressed(lab.out / "p3-maps.npz", x=xs, y=ys, pred=pred_cam, cam=cam, gradcam_gap=gradcam_gap)
lab.answer("p3-cam-equals-relu-gradcam-max-relative-error", identity)


def in_box_share(images, maps):
    """Share of each map's positive mass (upsampled to 28x28) inside the digit's bounding box (ink > 0.2)."""
    up = np.maximum(inspect.upsample_to_input(maps, (28, 28)), 0)
    shares, areas = [], []
    for img, m in zip(images[..., 0], up):
        rows_, cols_ = np.nonzero(img > 0.2)
        box = np.zeros_like(m, dtype=bool)
        box[rows_.min():rows_.max() + 1, cols_.min():cols_.max() + 1] = True
        shares.append(m[box].sum() / m.sum() if m.sum() > 0 else np.nan)
        areas.append(box.mean())
    return float(np.nanmean(shares)), float(np.mean(areas))


labels_cam = viz.true_and_predicted(ys, pred_cam, NAMES)
labels_orig = viz.true_and_predicted(ys, pred_orig, NAMES)
lab.figure(viz.overlay_heatmap(xs, cam, titles=labels_cam, show_input=False, ncols=K,
                               title=f"CAM of the GAP network for its predicted class ({S['cam_per_class']} test "
                                     f"digits of every class)",
                               colorbar_label="CAM = Σ_f w[f, class] · A_f (relu3, 7×7)",
                               note="red: the positions that raise the class score most, blue: least (or lower it)"),
           "p3_cam.png", "CAM heat maps (GAP network) over test digits of every class, for the predicted class.")
lab.figure(viz.overlay_heatmap(xs, gradcam, titles=labels_orig, show_input=False, ncols=K,
                               title="Grad-CAM of the original network (relu3, 7×7) for its predicted class",
                               colorbar_label="ReLU(Σ_f mean(d score / d A_f) · A_f)"),
           "p3_gradcam.png", "Grad-CAM on the original network (Flatten-Dense head), same digits.")
lab.figure(viz.overlay_heatmap(xs, sal, titles=labels_orig, show_input=False, ncols=K,
                               title="saliency of the original network: |d score / d pixel| for its predicted class",
                               colorbar_label="|d score / d pixel|"),
           "p3_saliency.png", "Saliency maps on the original network, same digits.")

zero_gradcam = int(np.sum(gradcam.reshape(len(xs), -1).max(axis=1) <= 0))
up = lambda m: inspect.upsample_to_input(m, (28, 28))  # noqa: E731  (7x7 maps -> 28x28, bilinear)
r_cam_grad = float(np.nanmean([corr(a, b) for a, b in zip(up(np.maximum(cam, 0)), up(gradcam))]))
r_cam_sal = float(np.nanmean([corr(a, b) for a, b in zip(up(np.maximum(cam, 0)), sal)]))
box_cam, area = in_box_share(xs, cam)
box_grad, _ = in_box_share(xs, gradcam)
box_sal, _ = in_box_share(xs, sal)
sal_on_blank = float(np.mean([m[img[..., 0] < 0.1].sum() / m.sum() for img, m in zip(xs, sal) if m.sum() > 0]))
cam_pos = np.maximum(up(cam), 0)
cam_on_blank = float(np.mean([m[img[..., 0] < 0.1].sum() / m.sum() for img, m in zip(xs, cam_pos) if m.sum() > 0]))
blank_share = float(np.mean(xs < 0.1))
negative = float(np.mean([np.abs(np.minimum(c, 0)).sum() / np.abs(c).sum() for c in cam if np.abs(c).sum() > 0]))
zeros = {name: int(np.sum(m.reshape(len(xs), -1).max(axis=1) <= 0))
         for name, m in (("cam", cam), ("grad", gradcam), ("sal", sal))}
similar_maps = ("the two networks point at similar places" if r_cam_grad > 0.5 else
                "different maps, although the two networks share their first layers: fine-tuning changed the conv "
                "layers, and Grad-CAM on the original Flatten-Dense head averages gradients whose sign changes from "
                "one position to the next, so its map is a different, cruder summary")
lab.answer("p3-cam-gradcam-correlation", r_cam_grad)
lab.answer("p3-cam-in-box-share", box_cam)

# %% [markdown]
# ### Where CAM fails: misclassified digits

# %%
all_pred = cam_model.predict(x_test, batch_size=500).argmax(axis=1)
n_wrong = int(np.sum(all_pred != y_test))
wrong = np.nonzero(all_pred != y_test)[0][:S["n_wrong"]]
lab.answer("p3-cam-misclassified-test-digits", n_wrong)
r_wrong = margin = box_wrong = float("nan")
if len(wrong):
    xw, yw, pw = x_test[wrong], y_test[wrong], all_pred[wrong]
    cam_pred = inspect.class_activation_map(cam_model, xw, pw)
    cam_true = inspect.class_activation_map(cam_model, xw, yw)
    titles = ([f"{t}\nmap of pred {NAMES[p]}" for t, p in zip(viz.true_and_predicted(yw, pw, NAMES), pw)]
              + [f"true {NAMES[t]}\nmap of true {NAMES[t]}" for t in yw])
    lab.figure(viz.overlay_heatmap(np.concatenate([xw, xw]), np.concatenate([cam_pred, cam_true]), titles=titles,
                                   show_input=False, ncols=len(xw),
                                   title="misclassified test digits: CAM for the predicted class (top row) and for "
                                         "the true class (bottom row)",
                                   colorbar_label="CAM", note="red: the positions that raise the score of the class "
                                                              "named above the panel most"),
               "p3_cam_misclassified.png", "Misclassified test digits: CAM of the wrong (predicted) class and of "
               "the true class.")
    r_wrong = float(np.mean([corr(a, b) for a, b in zip(cam_pred, cam_true)]))
    probs_w = cam_model.predict(xw)
    margin = float(np.mean(probs_w[np.arange(len(xw)), pw] - probs_w[np.arange(len(xw)), yw]))
    box_wrong, _ = in_box_share(xw, cam_pred)

lab.md(f"""### CAM, Grad-CAM and saliency on the same digits

{len(xs)} test digits, {S['cam_per_class']} of each class (one column per class). CAM uses the GAP network,
Grad-CAM (at relu3, the same 7×7 layer) and saliency the original network; each map is drawn for the class the
network predicts (panel titles: true and predicted class).

| | CAM (GAP network) | Grad-CAM (original) | saliency (original) |
|---|---|---|---|
| resolution | {h}×{w}, upsampled | {h}×{w}, upsampled | 28×28 (the pixels) |
| positive map inside the digit's bounding box ({area:.0%} of the image) | {box_cam:.0%} | {box_grad:.0%} | {box_sal:.0%} |
| maps that are 0 everywhere | {zeros['cam']} | {zeros['grad']} | {zeros['sal']} |

On the GAP network CAM and Grad-CAM are the same map: Grad-CAM's weights are the gradients d score / d A
averaged over the positions, and behind a global average pooling that gradient is w[f, c] / (h·w) at every
position, so Grad-CAM = ReLU(CAM) / {h * w} — measured largest difference {identity:.1e} of the map's maximum.
Between the two *networks* CAM (GAP) and Grad-CAM (original) correlate {r_cam_grad:.2f} on average (upsampled
maps), CAM and saliency {r_cam_sal:.2f}: {similar_maps}.

**What the maps show.** Where in the image the evidence for the class lies: {box_cam:.0%} of CAM's positive
mass falls inside the digit's bounding box, which covers {area:.0%} of the image. CAM splits the class score itself
over the 7×7 positions (its mean *is* the score minus the bias): red cells raise the score, blue ones lower it
({negative:.0%} of the map's absolute mass is negative on these digits). {cam_on_blank:.0%} of CAM's positive mass
lies on blank pixels (below 0.1, {blank_share:.0%} of the image): the blank inside and around the strokes counts
as evidence too — a network that tells a 0 from a 6 needs to know where there is *no* ink. Saliency is finer
(pixels) but answers
another question — which pixels would change the score most if they changed —, so it also lights blank pixels:
{sal_on_blank:.0%} of the saliency mass lies on pixels below 0.1, which make up {blank_share:.0%} of the images.

**How it can be used.** To check that a network looks at the object and not at the background or a watermark
(a 'Clever Hans' check), to localise objects with class labels only (weakly supervised localisation, Zhou et al.,
2016), to explain a single decision to a user, and to see why a digit was confused with another by comparing the
maps of the two classes.

**Where it fails.** """ + (f"""{len(wrong)} of the {n_wrong:,} test digits the GAP network gets wrong are shown.
The map of the wrong class lies on the digit {'as much as' if box_wrong >= box_cam - 0.1 else 'less than'} a correct
map does ({box_wrong:.0%} of its positive mass in the bounding box, {box_cam:.0%} on the correctly shown digits
above), and nothing in it says that it is wrong: the wrong class wins by
a mean probability margin of {margin:.2f}, and its map and the true class's map correlate {r_wrong:.2f} on average
({'largely the same places: both classes find their evidence on the same strokes' if r_wrong > 0.5 else 'each class finds its evidence in its own places'}).
The map says *where* the network found evidence, not whether that evidence should count, nor *why* it outweighed
the true class's. """
       if len(wrong) else "No test digit is misclassified, so this run has no example to show. ") + f"""The maps are
coarse (7×7 cells of 4×4 pixels, smoothed when upsampled); CAM needs the GAP architecture and a retrained network
(here {cam_r['test_accuracy']:.4f} against {orig_r['test_accuracy']:.4f} for the original), and its maps describe
that network, not the original one; on the original Flatten-Dense head Grad-CAM's averaged gradients can be
negative for every filter, giving an empty map ({zero_gradcam} of {len(xs)} digits here); and a heat map is read by a
human who sees the digit: it shows a location, never which feature (a loop, a stroke end) the network detected
there.""")
lab.answer("p3-uses", "check where the network looks; weakly supervised localisation; explain a decision or a "
                      "confusion")
lab.answer("p3-fails", f"on misclassified digits the wrong class's map lies on the digit too (in-box "
                       f"{box_wrong:.0%}, r with the true class's map {r_wrong:.2f}): where, not why; 7x7 resolution")

lab.finish()
