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
# # PW08 — Convolutions by hand, shallow networks and CNNs on CIFAR-10
#
# The course document is `../shared/seeds/001_*.txt` ("Practical work 08 –
# Convolutional Neural Networks with Keras"). This script follows its exercises
# in order and writes the report `labs/reports/pw08/README.md`. Run it with
# `minicnn lab run pw08 --profile quick|report|full`, as a plain script
# (`python labs/pw08_cnn_basics.py --profile quick`), or open it as a notebook
# (jupytext). Every number in the report comes from this run.
#
# Exercise 1's numbers (the 1-D stand-in, the 2-D figure) are read from
# `labs/data/pw08_convolutions.json`: replace them there with the figure's values.

# %%
import json
from pathlib import Path

import numpy as np
from matplotlib.colors import rgb_to_hsv

import labs
import minicnn as mc
from labs._runner import fmt_mean_std, start
from labs.catalog import PW08_DEEPER, PW08_MLP_TUNED
from minicnn import explain, viz
from minicnn.viz.figures import new_figure
from minicnn.viz.imageops import normalize_to_uint8

lab = start("pw08")
S = lab.settings
LABS_DIR = Path(labs.__file__).resolve().parent
REPO = LABS_DIR.parent
CONV_DATA = json.loads((LABS_DIR / "data" / "pw08_convolutions.json").read_text())
saved = {}   # every exercise-1 output, written to ex1-outputs.npz for the tests


def trace_details(summary, trace):
    """A trace's markdown, folded under ``summary`` (its headings moved below the report's)."""
    lines = []
    for line in trace.to_markdown().splitlines():
        if line.startswith("### "):
            line = "##### " + line[4:]
        elif line.startswith("## "):
            line = "#### " + line[3:]
        lines.append(line)
    return f"<details><summary>{summary}</summary>\n\n" + "\n".join(lines) + "\n\n</details>"


def conv2d_output(x, w, b, strides, padding):
    """What minicnn's ``Conv2D`` computes with the weights set to ``w``, ``b``.

    x: (H, W, C) one image; w: (KH, KW, C, F); b: (F,) -> (OH, OW, F).
    """
    model = mc.Sequential([mc.Input(x.shape),
                           mc.Conv2D(w.shape[3], w.shape[:2], strides=strides, padding=padding, name="conv")])
    model.set_weights([w, b])
    return model.predict(x[None].astype(np.float32))[0].astype(np.float64)


def pct(v):
    """0.4512 -> "45.1 %" (accuracies are stored as fractions)."""
    return f"{100 * v:.1f} %"


def numbers(a):
    """[1., -2.] -> "1 -2" (the short text of an answer)."""
    return " ".join(f"{v:g}" for v in np.ravel(a))


# %% [markdown]
# ## Exercise 1 a) — the 1-D convolution of Figure 1
#
# Five (S, P) settings. For each, `minicnn.explain.conv1d_trace` writes out the
# padded input, every window, its products and sum, and the output-size formula
# (with what happens when N + 2P − F is not a multiple of S). The same numbers
# go through a `Conv2D` (a 1-D signal is a 1 × N image) to show that the engine
# computes what the hand does.

# %%
one_d = CONV_DATA["ex1a_1d"]
x1, w1, b1 = np.array(one_d["x"], float), np.array(one_d["w"], float), float(one_d["b"])
N, F = len(x1), len(w1)
CASES_1D = ((1, 0), (2, 0), (4, 0), (1, 1), (4, 1))   # (S, P), in the document's order

rows, details, same_length, not_divisible = [], [], [], []
for s, p in CASES_1D:
    trace = explain.conv1d_trace(x1, w1, b1, stride=s, padding=p)
    layer = conv2d_output(x1[None, :, None], w1[None, :, None, None], np.array([b1]), (1, s), (0, p))[0, :, 0]
    saved[f"1d_S{s}_P{p}_trace"], saved[f"1d_S{s}_P{p}_conv2d"] = trace.output, layer
    span = N + 2 * p - F
    if len(trace.output) == N:
        same_length.append(f"S = {s}, P = {p}")
    if span % s:
        not_divisible.append(f"S = {s}, P = {p}: N + 2P − F = {span}, not a multiple of {s}, the last {span % s} "
                             f"padded position(s) start no window")
    rows.append(f"| {s} | {p} | `{explain.output_size_explained(N, F, s, p).splitlines()[0]}` | {len(trace.output)} | "
                f"{numbers(trace.output)} | {numbers(layer)} |")
    details.append(trace_details(f"Full trace for S = {s}, P = {p}", trace))
    lab.answer(f"ex1a-1d-S{s}-P{p}-output", numbers(trace.output))
    if not np.array_equal(trace.output, layer):
        raise AssertionError(f"ex1a S={s} P={p}: the trace {trace.output} and Conv2D {layer} differ")

stand_in_1d = ("**These are stand-in numbers**: Figure 1 is an image our copy of the document lost, so the input "
               "and kernel below are our own, kept in `labs/data/pw08_convolutions.json` (`ex1a_1d`); put the "
               "figure's values there and run the lab again. " if one_d.get("stand_in") else
               "The input and kernel are Figure 1's, from `labs/data/pw08_convolutions.json`. ")
rule_p = (f"P = (F − 1)/2 = {(F - 1) // 2}" if F % 2 else
          f"no symmetric P (F = {F} is even: 2P = F − 1 has no integer solution; TensorFlow's \"same\" pads "
          f"{(F - 1) // 2} before and {F // 2} after)")
lab.md(f"""## Exercise 1 — computation of convolutions

### a) The 1-D example (Figure 1)

{stand_in_1d}Input x = [{", ".join(f"{v:g}" for v in x1)}] (N = {N}), kernel w = [{", ".join(f"{v:g}" for v in w1)}] \
(F = {F}), bias {b1:g}. The kernel slides over the input as it is (cross-correlation, what CNN libraries call a \
convolution). Output length: out = ⌊(N + 2P − F) / S⌋ + 1.

| S | P | output length (K = F) | length | output (traced) | `Conv2D`, same weights |
|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n\n" + "\n\n".join(details) + f"""

**Which (S, P) keep the input's length N = {N}?** {", ".join(same_length) or "none of the five"}. \
**Rule for any N and F:** out = ⌊(N + 2P − F) / S⌋ + 1 equals N for every N only with S = 1 and \
2P = F − 1, i.e. \
{rule_p}; with S > 1 the output is about N / S long (⌈N / S⌉ with TensorFlow's "same" padding), so a stride \
always shrinks it. **When N + 2P − F is not a multiple of S**, the division is floored: the window cannot take \
another full step and the last positions of the padded input are never covered — \
{"; ".join(not_divisible) if not_divisible else "none of the five cases here"}. \
The `Conv2D` column is minicnn's layer with the same kernel and bias, on the signal as a 1 × {N} image: \
the same numbers in every case.""")
lab.answer("ex1a-1d-stand-in", "yes" if one_d.get("stand_in") else "no")
lab.answer("ex1a-1d-same-length", "; ".join(same_length) or "none")
lab.answer("ex1a-1d-rule", "out = floor((N + 2P - F)/S) + 1; = N for S = 1 and P = (F - 1)/2 (F odd)")

# %% [markdown]
# ## Exercise 1 b) — the 2-D example of Figure 2
#
# A 4 × 4 × 3 input, two 2 × 2 × 3 filters with biases 1 and −1, read from
# `minicnn/explain_examples/pw08_2d.json` (the file `minicnn trace-conv
# --example pw08_2d` shows). Our copy of the document lost the filters' B planes:
# that file sets them to 0 and lists them under `missing`.

# %%
two_d = CONV_DATA["ex1b_2d"]
spec = explain.load_trace_json(REPO / two_d["file"])
missing = spec.get("missing", [])
traces = {s: explain.trace_from_spec(spec, stride=s, padding=0) for s in (1, 2)}
x2, w2, b2 = traces[1].x, traces[1].w, traces[1].b            # (H, W, C), (KH, KW, C, F), (F,)
H, W, C = x2.shape
KH, KW, _, F2 = w2.shape
names = traces[1].filter_names or [f"filter {f}" for f in range(F2)]
layer_out = {s: conv2d_output(x2, w2, b2, s, 0) for s in (1, 2)}
for s in (1, 2):
    saved[f"2d_S{s}_trace"], saved[f"2d_S{s}_conv2d"] = traces[s].output, layer_out[s]
max_diff = float(max(np.abs(traces[s].output - layer_out[s]).max() for s in (1, 2)))


def volume(shape):
    return "×".join(str(d) for d in shape)


# A size-preserving choice, by the formula and by running a Conv2D on the input.
K_KEEP, P_KEEP, S_KEEP = 3, 1, 1
keep_formula = explain.output_size_explained(H, K_KEEP, S_KEEP, P_KEEP)
keep_layer = mc.Conv2D(F2, K_KEEP, strides=S_KEEP, padding=P_KEEP, name="keep")
keep_shape = keep_layer.forward(x2[None].astype(np.float32)).shape[1:]
same_formula = "; ".join(line.strip() for line in explain.output_size_explained(H, KH, 1, "same").splitlines())
same_shape = mc.Conv2D(F2, (KH, KW), padding="same", name="same").forward(x2[None].astype(np.float32)).shape[1:]


def plane_table(plane):
    head = "| | " + " | ".join(f"col {j}" for j in range(plane.shape[1])) + " |"
    return "\n".join([head, "|---|" + "---:|" * plane.shape[1]]
                     + [f"| **row {i}** | " + " | ".join(f"{v:g}" for v in row) + " |" for i, row in enumerate(plane)])


out1 = traces[1].output
steps = "\n".join(f"- {names[st.f]} [{st.i},{st.j}]: `{st.expression()}`" for st in traces[1].steps)
stand_in_2d = (f"**Stand-in values**: our copy of the document lost the filters' B planes ({', '.join(missing)}); "
               f"they are set to 0 in `{two_d['file']}` (listed under `missing`), so the B channel adds nothing "
               f"below. Replace them there with the figure's values and run the lab again."
               if missing else f"All of Figure 2's values are in `{two_d['file']}`.")
lab.md(f"""### b) The 2-D example (Figure 2)

Input {H}×{W}×{C} (planes {", ".join(traces[1].channel_names)}), {F2} filters {KH}×{KW}×{C} \
({", ".join(names)}), biases {", ".join(f"{v:g}" for v in b2)}. {stand_in_2d}

- **How many activation maps?** {F2}: one per filter.
- **Output volume with S = 1, P = 0:** {volume(out1.shape)} (`{explain.output_size_explained(H, KH, 1, 0)}` \
in each direction, times {F2} filters).
- **Output volume with S = 2, P = 0:** {volume(traces[2].output.shape)} \
(`{explain.output_size_explained(H, KH, 2, 0)}`).
- **A filter size, padding and stride that preserve the spatial size:** {K_KEEP}×{K_KEEP} filters, P = {P_KEEP}, \
S = {S_KEEP} (in general S = 1 and P = (F − 1)/2 for an odd size F): `{keep_formula}`; a `Conv2D({F2}, \
{K_KEEP}, strides={S_KEEP}, padding={P_KEEP})` on the {H}×{W}×{C} input gives {volume(keep_shape)}. The \
document's own {KH}×{KW} filters cannot do it with a symmetric padding (({H} + 2P − {KH}) + 1 = {H} needs \
2P = {KH - 1}{", which no integer P gives" if KH % 2 == 0 else ""}); TensorFlow's `padding="same"` pads one \
row and one column after: `{same_formula}`, and \
`Conv2D({F2}, {KH}, padding="same")` gives {volume(same_shape)}.

**Output values with S = 1, P = 0**, each computed as the spreadsheet does (per channel R, G, B: the window \
times the filter, summed; then the three sums and the bias):

{steps}

""" + "\n\n".join(f"**{names[f]}** (output map {f})\n\n{plane_table(out1[:, :, f])}" for f in range(F2)) + f"""

minicnn's `Conv2D({F2}, {KH}, strides=1, padding="valid")` with its kernel set to these filters \
({KH}×{KW}×{C}×{F2}) and its bias to [{", ".join(f"{v:g}" for v in b2)}] gives the same values: largest \
difference {max_diff:g} over the S = 1 and S = 2 outputs.

""" + trace_details("Full trace for S = 1, P = 0 (inputs, every window, products, sums)", traces[1]) + "\n\n"
       + trace_details("Full trace for S = 2, P = 0", traces[2]))
if max_diff:
    raise AssertionError(f"ex1b: the traced values and Conv2D's differ by {max_diff}")
lab.answer("ex1b-2d-stand-in-planes", ", ".join(missing) or "none")
lab.answer("ex1b-2d-activation-maps", F2)
lab.answer("ex1b-2d-volume-S1-P0", volume(out1.shape))
lab.answer("ex1b-2d-volume-S2-P0", volume(traces[2].output.shape))
lab.answer("ex1b-2d-size-preserving", f"F = {K_KEEP}x{K_KEEP}, P = {P_KEEP}, S = {S_KEEP} -> {volume(keep_shape)}")
for f in range(F2):
    lab.answer(f"ex1b-2d-values-S1-P0-filter{f}", "; ".join(numbers(row) for row in out1[:, :, f]))
lab.answer("ex1b-2d-conv2d-max-abs-difference", max_diff)
np.savez(lab.out / "ex1-outputs.npz", **saved)

# %% [markdown]
# ## Exercise 2 — shallow networks on CIFAR-10
#
# CIFAR-10: 50,000 training and 10,000 test images, 32 × 32 × 3, scaled to
# [0, 1], labels one-hot for the categorical cross-entropy.

# %%
data = lab.data("cifar10")
n_val = int(len(data.x_train) * S["validation_split"])
TRAIN = dict(data=data, batch_size=S["batch_size"], validation_split=S["validation_split"])


def class_samples(per_class=8):
    """Figure 3: the first ``per_class`` training images of each class, one row per class."""
    fig = new_figure(0.8 * per_class + 1.2, 0.8 * data.n_classes + 0.6)
    axes = fig.subplots(data.n_classes, per_class)
    for c in range(data.n_classes):
        for k, i in enumerate(np.flatnonzero(data.y_train == c)[:per_class]):
            axes[c, k].imshow(data.x_train[i])
            axes[c, k].set_xticks([]), axes[c, k].set_yticks([])
        for k in range(len(np.flatnonzero(data.y_train == c)[:per_class]), per_class):
            axes[c, k].axis("off")
        axes[c, 0].set_ylabel(data.class_names[c], rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"CIFAR-10: the first {per_class} training images of each class", fontsize=10)
    return fig


lab.md(f"""## Exercise 2 — shallow networks on CIFAR-10

{len(data.x_train):,} training and {len(data.x_test):,} test images, 32×32×3, scaled to [0, 1]. Source: \
{data.source}.

**Validation.** The document asks for none. We hold out the last {100 * S["validation_split"]:.0f} % of the training \
images ({n_val:,}; Keras' `validation_split`, taken before shuffling), so the networks train on \
{len(data.x_train) - n_val:,} images. Why: exercises 2 and 3 ask for the *best* tuned network, and choosing it on \
the test set would make the reported test accuracy optimistic; here the best MLP and the best CNN are chosen on \
the final validation accuracy, and the test set is only reported. The validation curves also show when a \
network starts over-fitting (the epoch of its best validation accuracy is given). The cost: 10 % fewer training \
images than the document (the 45 % it expects for the MLP was measured on 50,000).""")
lab.figure(class_samples(), "samples.png", "Figure 3 of the document: sample CIFAR-10 training images, "
           "one row per class.")

# %% [markdown]
# ### One-layer network and weight visualisation
#
# `Dense(10, softmax)` on the flattened image with `kernel_regularizer=l2(0.05)`
# (Keras' convention: 0.05 · Σw² added to the loss), 5 epochs, batch 128,
# categorical cross-entropy, Adam; and the same network without L2, to see what
# the regularizer prevents.

# %%
dense_runs = {"L2 0.05": lab.train("ex2-dense-l2", "pw08_dense_l2", epochs=S["dense_epochs"], **TRAIN),
              "no L2": lab.train("ex2-dense-no-l2", "pw08_dense", epochs=S["dense_epochs"], **TRAIN)}


def template_stats(kernel):
    """Measures of the 10 weight templates. kernel: (3072, 10), rows in the order of Flatten over (32, 32, 3).

    norm: ‖W‖ (all weights); max_abs: the largest |w|; penalty: 0.05·Σw², what L2 adds to the loss;
    roughness: mean |difference between horizontal neighbours| / mean |deviation from the plane's mean|
        (0 for a smooth template, about 1.1 to 1.4 for pixel noise);
    saturated: share of pixels of the displayed images (per-channel 0-255) whose colour saturation
        (max − min) / max of R, G, B is above 0.5: strong, pure colours.
    """
    w = kernel.reshape(32, 32, 3, -1).astype(np.float64)
    deviation = np.abs(w - w.mean(axis=(0, 1), keepdims=True)).mean()
    images = np.stack([normalize_to_uint8(w[..., u], axis=-1) for u in range(w.shape[-1])])
    return {"norm": float(np.linalg.norm(w)), "max_abs": float(np.abs(w).max()),
            "penalty": float(0.05 * np.sum(w ** 2)),
            "roughness": float(np.abs(np.diff(w, axis=1)).mean() / deviation),
            "saturated": float(np.mean(rgb_to_hsv(images / 255.0)[..., 1] > 0.5))}


kernels, stats = {}, {}
for name, group in dense_runs.items():
    kernels[name] = group.model().get_layer("dense").params["kernel"].value
    stats[name] = template_stats(kernels[name])

acc = {n: (np.mean(g.values("train_accuracy")), np.mean(g.values("test_accuracy"))) for n, g in dense_runs.items()}

l2, no = stats["L2 0.05"], stats["no L2"]
norm_text = (f"without it the weights end {no['norm'] / l2['norm']:.1f} times larger in norm (largest weight "
             f"{no['max_abs']:.3f} against {l2['max_abs']:.3f}); kept, they would cost {no['penalty']:.2f} in the "
             f"regularized loss against {l2['penalty']:.2f}: the penalty keeps every weight close to 0 unless the "
             f"data pay for it.")
dense_gap = acc["L2 0.05"][1] - acc["no L2"][1]
accuracy_text = (f"The regularizer {'costs' if dense_gap < 0 else 'does not cost'} accuracy here: "
                 f"{pct(acc['L2 0.05'][1])} on the test set with L2 against {pct(acc['no L2'][1])} without "
                 f"({dense_gap * 100:+.1f} points)"
                 + (": 0.05 is a strong penalty, chosen for readable templates rather than for accuracy."
                    if dense_gap < 0 else "."))
if no["roughness"] > l2["roughness"] and no["saturated"] > l2["saturated"]:
    templates_text = (f"Large weights that no penalty pulls back fit single pixels: the templates' roughness is "
                      f"{no['roughness']:.2f} without L2 against {l2['roughness']:.2f} with it, and "
                      f"{100 * no['saturated']:.0f} % of the displayed pixels are strongly saturated colours against "
                      f"{100 * l2['saturated']:.0f} %. With L2 the templates are smooth colour blobs in which the "
                      f"average "
                      f"look of a class can be read; without it, a speckle of saturated colours hides it: this is "
                      f"the \"too strong saturation\" the document speaks of.")
else:
    templates_text = (f"In this run the templates' roughness is {no['roughness']:.2f} without L2 against "
                      f"{l2['roughness']:.2f} with it, and {100 * no['saturated']:.0f} % of the displayed pixels are "
                      f"strongly saturated colours against {100 * l2['saturated']:.0f} %: too short a training for the "
                      f"difference in the pictures to show.")
acc = {n: (np.mean(g.values("train_accuracy")), np.mean(g.values("test_accuracy"))) for n, g in dense_runs.items()}
lab.md("### One-layer network and weight visualisation\n\n"
       "Dense(10, softmax) on the flattened image, with `kernel_regularizer=l2(0.05)` as the document asks, and "
       "the same network without it.\n\n"
       "| network | train accuracy | test accuracy | ‖W‖ | largest \\|w\\| | 0.05·Σw² | roughness | "
       "saturated pixels |\n"
       "|---|---|---|---|---|---|---|---|\n" + "\n".join(
           f"| {n} | {fmt_mean_std(g.values('train_accuracy'))} | {fmt_mean_std(g.values('test_accuracy'))} | "
           f"{stats[n]['norm']:.2f} | {stats[n]['max_abs']:.3f} | {stats[n]['penalty']:.3f} | "
           f"{stats[n]['roughness']:.2f} | {pct(stats[n]['saturated'])} |" for n, g in dense_runs.items())
       + f"""

{S["dense_epochs"]} epochs, batch {S["batch_size"]}, Adam. Train accuracy is the model evaluated on its \
{len(data.x_train) - n_val:,} training images after the last epoch (Keras' `evaluate`). *Roughness*: mean \
difference between neighbouring weights relative to the template's contrast (0 = smooth, about 1.1–1.4 = pixel \
noise); *saturated pixels*: share of the displayed pixels whose colour saturation (max − min)/max of R, G, B \
exceeds 0.5.

**What the L2 regularizer prevents**, measured: {norm_text} {templates_text} {accuracy_text}""")
for n, key in (("L2 0.05", "l2"), ("no L2", "no-l2")):
    lab.answer(f"ex2-dense-{key}-train-accuracy", acc[n][0])
    lab.answer(f"ex2-dense-{key}-test-accuracy", acc[n][1])
    for k in ("norm", "roughness", "saturated"):
        lab.answer(f"ex2-dense-{key}-weight-{k}", stats[n][k])
for name in dense_runs:
    file = "dense_weights_l2.png" if name == "L2 0.05" else "dense_weights_no_l2.png"
    lab.figure(viz.dense_weight_images(kernels[name], (32, 32, 3), data.class_names, ncols=5,
                                       title=f"One-layer network, {name}: the weights of each class as a "
                                             f"32×32 RGB image"),
               file, f"Figure 4 of the document, {name}: each unit's 3,072 weights as a 32×32×3 image, each "
                     f"colour channel normalised to 0-255 on its own.")

fig = new_figure(6.5, 3.2)
ax = fig.add_subplot()
for name, k in kernels.items():
    ax.hist(np.ravel(k), bins=120, histtype="step", label=f"{name} (‖W‖ = {stats[name]['norm']:.2f})")
ax.set_yscale("log")
ax.set_xlabel("weight value")
ax.set_ylabel("number of weights (log)")
ax.set_title("One-layer network: distribution of the 30,720 kernel weights")
ax.legend(fontsize=8)
lab.figure(fig, "dense_weight_histograms.png", f"The kernel weights of the two one-layer networks: "
           f"‖W‖ = {stats['L2 0.05']['norm']:.2f} with L2, {stats['no L2']['norm']:.2f} without.")

lab.answer("ex2-l2-prevents", "large, pixel-noisy weights (saturated, speckled templates)"
           if no["norm"] > l2["norm"] and no["roughness"] > l2["roughness"] else "no difference measured in this run")

# %% [markdown]
# ### Two-layer network (MLP) and tuning
#
# 128 ReLU units, softmax output, 30 epochs, batch 128, Adam, no L2 (the document
# expects about 45 % test accuracy); then four variants: more units, one more
# layer, dropout, and a smaller learning rate.

# %%
def architecture_text(model):
    """Table 1's "Architecture" column, read from the model's layers:
    "Layer 1 : CONV D=32, w=h=3, S=1, P='same', ReLU ; Layer 2 : MAXPOOL w=h=2, S=2 ; ..."."""
    parts = []
    for layer in model.layers:
        if isinstance(layer, mc.Conv2D):
            (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
            size = f"w=h={kw}" if kh == kw else f"w={kw}, h={kh}"
            stride = sh if sh == sw else f"({sh}, {sw})"
            pad = f"'{layer.padding}'" if isinstance(layer.padding, str) else layer.padding
            parts.append(f"CONV D={layer.filters}, {size}, S={stride}, P={pad}"
                         + (f", {layer.activation}" if layer.activation else ""))
        elif isinstance(layer, mc.MaxPool2D):
            (ph, pw), (sh, _) = layer.pool_size, layer.strides
            parts.append(f"MAXPOOL {'w=h=' + str(pw) if ph == pw else f'w={pw}, h={ph}'}, S={sh}")
        elif isinstance(layer, mc.ReLU) and parts:
            parts[-1] += ", ReLU"
        elif isinstance(layer, mc.Dense):
            parts.append(f"DENSE {layer.units}" + (f", {layer.activation}" if layer.activation else ""))
        elif isinstance(layer, mc.Dropout):
            parts[-1] += f", DROPOUT {layer.rate:g}"
    return " ; ".join(f"Layer {k} : {p}" for k, p in enumerate(parts, start=1))


def curves_figure(groups, title):
    """Loss and accuracy per epoch of several networks, one legend beside the two panels (not over the curves)."""
    fig = viz.learning_curves({n: g.histories() for n, g in groups.items()}, metrics=("loss", "accuracy"),
                              title=title)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    for ax in fig.axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    return fig


def final_val(group):
    return float(np.mean([h["val_accuracy"][-1] for h in group.histories()]))


def result_row(label, group, extra=""):
    r = group.results[0]
    return (f"| {label} | {architecture_text(group.model())} |{extra} {r['params']:,} | "
            f"{fmt_mean_std(group.values('train_accuracy'))} | {pct(final_val(group))} | "
            f"{fmt_mean_std(group.values('best_val_accuracy'))} ({r['best_epoch']}) | "
            f"{fmt_mean_std(group.values('test_accuracy'))} | {np.mean(group.values('time_per_epoch_s')):.1f} s |")


MLP_BASE = "128 (document)"
mlps = {MLP_BASE: lab.train("ex2-mlp", "pw08_mlp", epochs=S["mlp_epochs"], **TRAIN)}
learning_rates = {MLP_BASE: 1e-3}
for variant, arch, lr in PW08_MLP_TUNED:
    mlps[variant] = lab.train(f"ex2-mlp-tuned-{variant}", arch, epochs=S["mlp_epochs"],
                              optimizer={"class_name": "Adam", "learning_rate": lr}, **TRAIN)
    learning_rates[variant] = lr
best_mlp = max(mlps, key=lambda n: final_val(mlps[n]))
base_test = np.mean(mlps[MLP_BASE].values("test_accuracy"))
best_mlp_test = np.mean(mlps[best_mlp].values("test_accuracy"))
base = mlps[MLP_BASE].results[0]
base_val = final_val(mlps[MLP_BASE])
mlp_fit_text = (f"The document's network ends with {pct(base['train_accuracy'])} on its training images against "
                f"{pct(base_val)} on the validation images; its validation accuracy was best at epoch "
                f"{base['best_epoch']} of {base['epochs']}"
                + (": it over-fits in the later epochs, which dropout and a smaller learning rate try to delay."
                   if base["best_epoch"] < base["epochs"] else ", still rising: more epochs would help."))
lab.md("### Two-layer network (MLP) and tuning\n\n"
       "| MLP | architecture | Adam learning rate | parameters | train accuracy | validation accuracy (final) | "
       "best validation accuracy (epoch) | test accuracy | time per epoch |\n|---|---|---|---|---|---|---|---|---|\n"
       + "\n".join(result_row(f"**{n}** (best)" if n == best_mlp else n, g, f" {learning_rates[n]:g} |")
                   for n, g in mlps.items())
       + f"""

{S["mlp_epochs"]} epochs, batch {S["batch_size"]}, categorical cross-entropy, Adam, no L2; time per epoch is the \
run's wall time (training and its final evaluation) divided by its epochs, on this machine. The document's \
network reaches {pct(base_test)} on the test set (the document expects about 45 %, \
{(base_test - 0.45) * 100:+.1f} points). **Best MLP**, chosen on the final validation accuracy: \
**{best_mlp}** ({architecture_text(mlps[best_mlp].model())}), {pct(best_mlp_test)} on the test set, \
{(best_mlp_test - base_test) * 100:+.1f} points over the document's network. {mlp_fit_text}""")
lab.figure(curves_figure(mlps, "MLPs: training (solid) and validation (dashed) per epoch"),
           "mlp_curves.png", "The two-layer network and its tuned variants: loss and accuracy per epoch, "
           "training (solid) and validation (dashed).")
lab.answer("ex2-mlp-test-accuracy", base_test)
lab.answer("ex2-mlp-train-accuracy", np.mean(mlps[MLP_BASE].values("train_accuracy")))
lab.answer("ex2-best-mlp", best_mlp)
lab.answer("ex2-best-mlp-test-accuracy", best_mlp_test)

# %% [markdown]
# ## Exercise 3 — CNNs on CIFAR-10
#
# The simple CNN: Conv2D(32, 3×3, S = 1, padding "same") – ReLU – MaxPool(2) –
# Flatten – Dense(10, softmax). The document gives no epoch count for the CNNs:
# 10 epochs, batch 128, Adam.

# %%
simple = lab.train("ex3-simple-cnn", "pw08_cnn", epochs=S["cnn_epochs"], **TRAIN)
simple_model = simple.model()
simple_test = np.mean(simple.values("test_accuracy"))
gain = simple_test - best_mlp_test
DOC_SHAPES = {"conv1": "32×32×32", "relu1": "32×32×32", "pool1": "16×16×32", "flatten": "8192",
              "dense": "1×1×10"}
shape_rows = "\n".join(
    f"| {l.name} | {type(l).__name__} | {volume(l.output_shape[1:])} | {DOC_SHAPES.get(l.name, '-')} | "
    f"{l.count_params():,} |" for l in simple_model.layers)
lab.md(f"""## Exercise 3 — CNNs on CIFAR-10

### Simple CNN

The document gives no epoch count for the CNNs: **{S["cnn_epochs"]} epochs**, batch {S["batch_size"]}, \
categorical cross-entropy, Adam (learning rate 1e-3). The input stays 32×32×3 (no flattening).

| layer | type | output shape | the document's | parameters |
|---|---|---|---|---|
{shape_rows}

```
{simple_model.summary(print_fn=None)}
```

Train accuracy {fmt_mean_std(simple.values("train_accuracy"))}, test accuracy \
{fmt_mean_std(simple.values("test_accuracy"))}. **Gain over the best MLP ({best_mlp}, {pct(best_mlp_test)}): \
{gain * 100:+.1f} points** (the document expects about +10), with {simple.results[0]["params"]:,} parameters \
against {mlps[best_mlp].results[0]["params"]:,} for that MLP.""")
lab.answer("ex3-simple-cnn-output-shapes", ", ".join(volume(l.output_shape[1:]) for l in simple_model.layers))
lab.answer("ex3-simple-cnn-params", simple.results[0]["params"])
lab.answer("ex3-simple-cnn-test-accuracy", simple_test)
lab.answer("ex3-simple-cnn-gain-over-best-mlp", gain)

# %% [markdown]
# ### Deeper CNNs
#
# Adding Conv2D/MaxPool pairs, with more filters and larger kernels deeper in
# the network (the document's rule of thumb), in the format of its Table 1.

# %%
cnns = {"simple CNN": simple}
for variant, arch in PW08_DEEPER:
    cnns[variant] = lab.train(f"ex3-deeper-{variant}", arch, epochs=S["cnn_epochs"], **TRAIN)
best_cnn = max((n for n in cnns if n != "simple CNN"), key=lambda n: final_val(cnns[n]))
best_overall = max(cnns, key=lambda n: final_val(cnns[n]))
b = cnns[best_cnn].results[0]
best_test = np.mean(cnns[best_cnn].values("test_accuracy"))
best_train = np.mean(cnns[best_cnn].values("train_accuracy"))
table = "\n".join(
    f"| {k} | {n} | {architecture_text(g.model())} | {fmt_mean_std(g.values('train_accuracy'))} | "
    f"{fmt_mean_std(g.values('test_accuracy'))} | {pct(final_val(g))} | {g.results[0]['params']:,} | "
    f"{np.mean(g.values('time_per_epoch_s')):.0f} s |" for k, (n, g) in enumerate(cnns.items(), start=1))
later = b["best_epoch"] == b["epochs"]
pools = [l for l in cnns[best_cnn].model().layers if isinstance(l, mc.MaxPool2D)]
lab.md(f"""### Deeper CNNs (Table 1)

{S["cnn_epochs"]} epochs each, batch {S["batch_size"]}, Adam; every convolution pads "same" with stride 1, every \
max pooling is 2×2 with stride 2. The Architecture column is generated from each model's layers.

| CNN | name | Architecture | Acc. train % | Acc. test % | Acc. validation % (final) | parameters | time per epoch |
|---|---|---|---|---|---|---|---|
{table}

**The best deeper CNN**, chosen on the final validation accuracy, is **{best_cnn}**: \
{architecture_text(cnns[best_cnn].model())}. It has {b["params"]:,} parameters and reaches \
{pct(best_train)} on its training images and {pct(best_test)} on the test set \
({(best_test - simple_test) * 100:+.1f} points over the simple CNN, {(best_test - best_mlp_test) * 100:+.1f} over \
the best MLP), at {b["time_per_epoch_s"]:.0f} s per epoch here. Its train − test gap is \
{(best_train - best_test) * 100:.1f} points and its validation accuracy was best at epoch {b["best_epoch"]} of \
{b["epochs"]}{" (still rising: more epochs would help)" if later else " (after that it over-fits)"}. Its \
{len(pools)} pooling stage(s) bring the 32×32 image down to {volume(pools[-1].output_shape[1:])} before the \
Dense layer, so most of its parameters sit in the convolutions that detect patterns, not in a Dense layer over \
raw positions (the simple CNN's Dense layer alone has {simple_model.get_layer("dense").count_params():,} of its \
{simple.results[0]["params"]:,} parameters). Overall best on validation: {best_overall}.""")
lab.figure(curves_figure(cnns, "CNNs: training (solid) and validation (dashed) per epoch"),
           "cnn_curves.png", "The simple CNN and the deeper ones: loss and accuracy per epoch, training (solid) "
           "and validation (dashed).")
lab.answer("ex3-best-cnn", best_cnn)
lab.answer("ex3-best-cnn-architecture", architecture_text(cnns[best_cnn].model()))
lab.answer("ex3-best-cnn-test-accuracy", best_test)
lab.answer("ex3-best-cnn-train-accuracy", best_train)

# %% [markdown]
# ## Exercise 4 — review questions
#
# Answered with the lab's own models where a number is involved. For f), every
# convolution layer of the lab's CNNs: (KH·KW·C_in + 1)·F against
# `count_params()` and the `summary()` line.

# %%
def summary_params(model):
    """Layer name -> the parameter count printed by ``model.summary()``."""
    counts = {}
    for line in model.summary(print_fn=None).splitlines():
        for layer in model.layers:
            if line.startswith(f"{layer.name} ({type(layer).__name__})"):
                counts[layer.name] = int(line.split()[-1].replace(",", ""))
    return counts


def receptive_fields(model):
    """(layer, size, stride, receptive field, jump) for each Conv2D / MaxPool2D, from the input on.

    r_l = r_(l-1) + (k_l − 1)·j_(l-1) input pixels, j_l = j_(l-1)·s_l (the distance in input pixels between
    two neighbouring outputs)."""
    r, j, rows = 1, 1, []
    for layer in model.layers:
        if isinstance(layer, (mc.Conv2D, mc.MaxPool2D)):
            k = (layer.kernel_size if isinstance(layer, mc.Conv2D) else layer.pool_size)[0]
            r, j = r + (k - 1) * j, j * layer.strides[0]
            rows.append((layer.name, k, layer.strides[0], r, j))
    return rows


param_rows, all_equal = [], True
for n, g in cnns.items():
    model = g.model()
    printed = summary_params(model)
    for layer in model.layers:
        if isinstance(layer, mc.Conv2D):
            kh, kw, c_in, f = layer.params["kernel"].value.shape
            by_formula = (kh * kw * c_in + 1) * f
            equal = by_formula == layer.count_params() == printed[layer.name]
            all_equal &= equal
            param_rows.append(f"| {n} | {layer.name} | ({kh}·{kw}·{c_in} + 1)·{f} = {by_formula:,} | "
                              f"{layer.count_params():,} | {printed[layer.name]:,} | {'yes' if equal else '**no**'} |")
if not all_equal:
    raise AssertionError("ex4 f): a convolution's parameter count differs from the formula; see the table")

rf_model = cnns[best_cnn].model()
rf_rows = "\n".join(f"| {name} | {k} | {s} | {r}×{r} | {j} |" for name, k, s, r, j in receptive_fields(rf_model))
conv1 = simple_model.get_layer("conv1")
dense_same_units = (32 * 32 * 3 + 1) * conv1.filters
first_step = traces[1].steps[0]
pool_out = volume(simple_model.get_layer("pool1").output_shape[1:])
dense_no_pool = (32 * 32 * conv1.filters + 1) * 10
lab.md(f"""## Exercise 4 — review questions

**a) Dense vs Conv2D.** A `Dense` layer connects every input value to every unit with its own weight: it needs a \
flat vector and its output is a vector (a `Dense({conv1.filters})` on the 32×32×3 image has \
(3072 + 1)·{conv1.filters} = {dense_same_units:,} parameters). A `Conv2D` layer slides small filters over the \
image: each filter sees a {conv1.kernel_size[0]}×{conv1.kernel_size[1]}×3 window and reuses the same weights at \
every position, so the simple CNN's `Conv2D({conv1.filters}, 3)` has only {conv1.count_params():,} parameters, \
and its output is again an image-shaped volume ({volume(conv1.output_shape[1:])}, one map per filter).

**b) Preserving the spatial structure.** The network works on the image as a H×W×C volume, not as a flattened \
vector: neighbouring pixels stay neighbours, each output value is computed from a local window and sits at the \
position of that window, so the maps are images too (32×32 after `conv1` with "same" padding). An MLP flattens \
the image first: it would learn just as well on images whose pixels were all shuffled the same way, it has no \
notion of "next to", and what it learns at one position does not carry over to another.

**c) The operations of a convolution.** For each output position: take the window of the input under the \
filter (across all input channels), multiply it element-wise with the filter's weights, sum all the products, \
add the bias; move the filter by the stride and repeat; one filter gives one activation map, F filters give F \
maps (followed by a non-linearity such as ReLU). Exercise 1's first value: `{first_step.expression()}`. A \
filter is defined by its size KH×KW (its depth is the number of input channels C_in), and the layer by the \
number of filters F, the stride S and the padding P.

**d) Receptive field and activation map.** The *receptive field* of a value is the region of the input image \
that can influence it. For one convolution it is the kernel size; it grows with each layer and each pooling \
(r_l = r_(l−1) + (k_l − 1)·j_(l−1), with j the product of the strides so far). In the best CNN \
({best_cnn}):

| layer | kernel / pool size | stride | receptive field in input pixels | jump (input pixels between neighbours) |
|---|---|---|---|---|
{rf_rows}

An *activation map* (feature map) is the output of one filter over all positions: an H×W image saying where \
the filter's pattern occurs (the simple CNN's `conv1` gives {conv1.filters} maps of 32×32).

**e) Stride and zero-padding.** The stride is the step between two windows: S = 2 halves the output size in each \
direction (about N/S values, 4× fewer in 2-D, and 4× less computation), skipping positions, as in exercise \
1 a) ({", ".join(f"S = {s}, P = {p}: {len(saved[f'1d_S{s}_P{p}_trace'])} values" for s, p in CASES_1D)} for N = \
{N}). Zero-padding adds P zeros around the input: it lets the filter be centred on the border pixels and, with \
S = 1 and P = (F − 1)/2, keeps the output as large as the input ("same"); without it each layer shrinks the \
maps by F − 1 and the borders count less.

**f) Number of parameters of a convolution layer**: (KH·KW·C_in + 1)·F (one weight per kernel entry and input \
channel, plus one bias, for each of the F filters). For every convolution of the lab's CNNs, against \
`count_params()` and the line of `summary()`:

| CNN | layer | (KH·KW·C_in + 1)·F | `count_params()` | `summary()` | equal |
|---|---|---|---|---|---|
{chr(10).join(param_rows)}

**g) Max pooling.** A max-pooling layer keeps the largest value of each window (2×2, stride 2 here) in each map \
separately; it has no parameters. It halves the height and width ({volume(conv1.output_shape[1:])} → \
{pool_out} in the simple CNN), so the following layers compute less and see a larger part of the image \
(the receptive field grows, table above); it keeps the strongest response of a pattern and drops its exact \
position, giving a little invariance to small shifts; and it shrinks the Dense layer: without `pool1` the simple \
CNN's Dense layer would need (32·32·{conv1.filters} + 1)·10 = {dense_no_pool:,} parameters instead of \
{simple_model.get_layer("dense").count_params():,}.""")
lab.answer("ex4-f-formula-equals-summary", "yes" if all_equal else "no")
lab.answer("ex4-f-conv-layers-checked", len(param_rows))
lab.answer("ex4-d-receptive-field-last-layer", receptive_fields(rf_model)[-1][3])

lab.finish()
