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
# # Ex08 — Fashion-MNIST the PyTorch way
#
# The course document is `../shared/seeds/004_*.txt` ("Exercise sheet 08"),
# written for PyTorch and torchvision. This script follows its questions in
# order with minicnn's torchvision-shaped `datasets`, `DataLoader` and
# `transforms`, and writes `labs/reports/ex08/README.md`. Run it with
# `minicnn lab run ex08 --profile quick|report|full`, as a plain script
# (`python labs/ex08_fashion_mnist.py --profile quick`), or open it as a
# notebook (jupytext). Every number in the report comes from this run.

# %%
import inspect as python_inspect
import os

import numpy as np

from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import silhouette_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import minicnn as mc
from labs._runner import curve_band, start
from labs._runner.loader_loop import train_one_epoch
from labs.architectures import build
from labs.catalog import EX08_OPTIMIZERS
from labs.ex08_dreamer import GREY, class_score_and_gradient, dream, empty_start
from minicnn import inspect, viz
from minicnn.data import DataLoader, datasets, transforms
from minicnn.viz.figures import new_figure, set_title

lab = start("ex08")
S = lab.settings
data = lab.data("fashion_mnist")      # the profile's images, float32 in [0, 1]: what the runs train on
names = data.class_names
print(f"profile {lab.profile}: {len(data.x_train)} training and {len(data.x_test)} test images")


def pct(v):
    return f"{100 * v:.1f} %"


def describe(optimizer):
    """{"class_name": "Adam", "learning_rate": 0.001} -> 'Adam(learning_rate=0.001)'."""
    args = ", ".join(f"{k}={v}" for k, v in optimizer.items() if k != "class_name")
    return f"{optimizer['class_name']}({args})"


# %% [markdown]
# ## Question 1.1 — pre-processing: a torchvision dataset and DataLoaders
#
# `datasets.FashionMNIST` is torchvision's class with minicnn's NHWC arrays:
# `dataset[i]` is an image (28, 28, 1) and its label, the `transform` is applied
# on access. `DataLoader` cuts it into shuffled batches, a new order every epoch.

# %%
download = os.environ.get("MINICNN_OFFLINE", "0") != "1"   # lab.data above already fetched the files
train_set = datasets.FashionMNIST(root=lab.data_root, train=True, download=download,
                                  transform=transforms.ToFloat())
test_set = datasets.FashionMNIST(root=lab.data_root, train=False, download=download,
                                 transform=transforms.ToFloat())
train_loader = DataLoader(train_set, batch_size=S["batch_size"], shuffle=True, seed=0)
test_loader = DataLoader(test_set, batch_size=1000)
x_batch, y_batch = next(iter(train_loader))
lab.md(f"""## Question 1 — classification of Fashion-MNIST

### 1.1 Pre-processing

```python
train_set = datasets.FashionMNIST(train=True, transform=transforms.ToFloat())   # uint8 0..255 -> float 0..1
test_set = datasets.FashionMNIST(train=False, transform=transforms.ToFloat())
train_loader = DataLoader(train_set, batch_size={S['batch_size']}, shuffle=True, seed=0)
test_loader = DataLoader(test_set, batch_size=1000)
x, y = next(iter(train_loader))
```

The training set holds {len(train_set):,} images and the test set {len(test_set):,} ({data.source}),
{len(train_loader):,} training batches of {S['batch_size']} and {len(test_loader)} test batches of 1,000.
A batch is `x` {x_batch.shape} {x_batch.dtype} with values in [{x_batch.min():.0f}, {x_batch.max():.0f}]
(NHWC, where PyTorch has NCHW) and `y` {y_batch.shape} {y_batch.dtype}. The classes:
{', '.join(f'{k} {n}' for k, n in enumerate(train_set.classes))}.
The trainings below use {len(data.x_train):,} training and {len(data.x_test):,} test images of this
profile, through the same `DataLoader` over an `ArrayDataset` of them (see 1.2).""")
lab.figure(viz.image_grid(x_batch[:24], y_batch[:24], class_names=train_set.classes, ncols=8,
                          title="Fashion-MNIST: the first batch of the shuffled training DataLoader"),
           "q1_1_samples.png", "Q1.1: 24 images of the first training batch with their class names.")
lab.answer("q1.1-train-images", len(train_set))
lab.answer("q1.1-test-images", len(test_set))

# %% [markdown]
# ## Question 1.2 — the baseline: PyTorch's MNIST example network
#
# Conv 3×3 32 – ReLU – Conv 3×3 64 – ReLU – MaxPool 2 – Dropout 0.25 – Flatten –
# Dense 128 – ReLU – Dropout 0.5 – Dense 10 (`ex08_mnist_net` in
# `labs/architectures.py`, with the example's layer names).

# %%
net = build("ex08_mnist_net")
table = inspect.parameter_table(net)


def formula(layer):
    """How a layer's parameter count comes about, e.g. '3·3·1·32 + 32'."""
    if "kernel" not in layer.params:
        return ""
    k = layer.params["kernel"].value.shape
    return "·".join(str(d) for d in k) + f" + {layer.params['bias'].value.size}"


rows = "\n".join(f"| {r.name} | {r.type} | {tuple(r.output_shape[1:])} | {formula(net.get_layer(r.name))} | "
                 f"{r.params:,} |" for r in table)
try:   # PyTorch's own count of the same network, when PyTorch is installed here
    import torch

    torch_net = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3),
                                    torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Dropout(0.25),
                                    torch.nn.Flatten(), torch.nn.Linear(9216, 128), torch.nn.ReLU(),
                                    torch.nn.Dropout(0.5), torch.nn.Linear(128, 10))
    torch_count = sum(p.numel() for p in torch_net.parameters())
    torch_note = (f"PyTorch {torch.__version__} counts {torch_count:,} parameters for the same layers "
                  f"(`sum(p.numel() for p in model.parameters())`), "
                  f"{'the same number' if torch_count == table.total else 'a DIFFERENT number'}.")
except ImportError:
    torch_note = ("PyTorch is not installed here; `tests/test_lab_ex08.py` compares the counts with PyTorch's "
                  "where it is.")
lab.md(f"""### 1.2 Baseline — the network of PyTorch's MNIST example

| layer | type | output shape | parameters | count |
|---|---|---|---|---|
{rows}
| **total** | | | | **{table.total:,}** |

A 3×3 convolution has 3·3·C_in weights per filter plus one bias; the dense layers have in·out weights
plus `out` biases. Almost all parameters ({table[[r.name for r in table].index('fc1')].params / table.total:.1%})
sit in fc1, which connects the 12·12·64 = 9,216 pooled values to 128 units. {torch_note}""")
lab.answer("q1.2-parameters", table.total)
lab.answer("q1.2-parameters-fc1", table[[r.name for r in table].index("fc1")].params)

# %% [markdown]
# #### Optimizer and learning rate
#
# PyTorch's example uses Adadelta at learning rate 1.0; minicnn has Adam and
# SGD, whose learning rates mean something else. A short comparison, chosen on
# held-out validation images (not the test set).

# %%
small = lab.data("fashion_mnist", n_train=S["lr_n_train"], n_test=S["lr_n_test"])
TRAIN = dict(batch_size=S["batch_size"], loop="loader")
comparison = {name: lab.train("q1.2-optimizer", "ex08_mnist_net", small, epochs=S["lr_epochs"], variant=name,
                              optimizer=opt, validation_split=S["lr_validation_split"], **TRAIN)
              for name, opt in EX08_OPTIMIZERS.items()}
score = {name: g.results[0]["best_val_accuracy"] for name, g in comparison.items()}
chosen = max(score, key=score.get)
optimizer = EX08_OPTIMIZERS[chosen]
first_loss = {name: g.results[0]["history"]["loss"][0] for name, g in comparison.items()}
worst = min(score, key=score.get)
n_fit = len(small.x_train) - int(len(small.x_train) * S["lr_validation_split"])
x_val = small.x_train[n_fit:]
dead = {}   # the share of fc1's units that never fire (ReLU output 0) on any validation image
for name, g in comparison.items():
    fired = inspect.activations(g.model(), x_val, layers=["relu3"])["relu3"].max(axis=0)
    dead[name] = float(np.mean(fired <= 0))
adam = sorted((n for n in EX08_OPTIMIZERS if EX08_OPTIMIZERS[n]["class_name"] == "Adam"),
              key=lambda n: EX08_OPTIMIZERS[n]["learning_rate"])
lab.md("#### Optimizer and learning rate\n\n"
       "PyTorch's example trains with Adadelta at learning rate 1.0 (its 2017 version: SGD 0.01, momentum 0.5); "
       "minicnn has Adam and SGD. Adadelta's step is a ratio of two running RMS values, already of the size of "
       "a weight change, and its 1.0 only scales it; Adam's learning rate is the step itself (Adam divides "
       "each gradient by its own running RMS, so every weight moves by about the learning rate per step). "
       f"A short comparison, {S['lr_epochs']} epoch(s) on {n_fit:,} training images, chosen on the next "
       f"{len(x_val):,} training images held out for validation (not on the test set), batches of "
       f"{S['batch_size']}:\n\n"
       "| optimizer | training loss, epoch 1 | best validation accuracy (epoch) | fc1 units never active on "
       "the validation images |\n|---|---|---|---|\n"
       + "\n".join(f"| {describe(EX08_OPTIMIZERS[n])} | {first_loss[n]:.3f} | {pct(score[n])} "
                   f"({g.results[0]['best_epoch']}) | {dead[n]:.0%} |" for n, g in comparison.items())
       + f"\n\n**Chosen: {describe(optimizer)}**, the highest validation accuracy; {describe(EX08_OPTIMIZERS[worst])} "
         f"did worst ({pct(score[worst])}). Among the Adam rates, the largest, {describe(EX08_OPTIMIZERS[adam[-1]])}, left "
         f"{dead[adam[-1]]:.0%} of fc1's units dead (a unit pushed to negative inputs for every image gets "
         f"no gradient again), the smallest, {describe(EX08_OPTIMIZERS[adam[0]])}, {dead[adam[0]]:.0%}. The document's hint holds: "
         f"the rate that works here is {optimizer['learning_rate']:g}, "
         f"{1.0 / optimizer['learning_rate']:,.0f} times below the example's 1.0.")
lab.answer("q1.2-optimizer", chosen)
lab.answer("q1.2-learning-rate", optimizer["learning_rate"])

# %% [markdown]
# #### Training, the PyTorch way
#
# Every case of question 1 trains through the runner's PyTorch-style loop
# (`loop="loader"`): a `DataLoader` over the training images (with the
# transforms of 1.3 where asked), `model.train_on_batch` for every batch, and
# the test set evaluated after every epoch (`test_each_epoch=True`), as the
# example's `train()` / `test()` pair. The "best epoch" is the epoch with the
# highest test accuracy, as the document asks (`monitor="test_accuracy"`).

# %%
CASE = dict(TRAIN, optimizer=optimizer, test_each_epoch=True, monitor="test_accuracy")
cases = {"baseline": lab.train("q1.2-baseline", "ex08_mnist_net", data, epochs=S["epochs"], **CASE)}
loop_source = python_inspect.getsource(train_one_epoch)
body = loop_source[loop_source.index("    output_layer"):]


def best_line(group):
    r = group.results[0]
    return (f"best epoch {r['best_epoch']} of {r['epochs']}: test accuracy **{pct(r['best_test_accuracy'])}** "
            f"(after the last epoch {pct(r['history']['test_accuracy'][-1])})")


lab.md(f"""**Training.** {describe(optimizer)}, categorical cross-entropy on the softmax (PyTorch's
`log_softmax` + `nll_loss` is the same loss), batches of {S['batch_size']}, {S['epochs']} epochs,
{len(data.x_train):,} training images, the {len(data.x_test):,} test images evaluated after every epoch.
The loop is `train_one_epoch` in `labs/_runner/loader_loop.py`; per epoch the runner calls it and then
`evaluate(model, x_test, y_test)`:

```python
{body.rstrip()}
```

Baseline: {best_line(cases['baseline'])}.""")

# %% [markdown]
# ## Question 1.3 — data augmentation
#
# torchvision-style transforms of `minicnn.data.transforms`, applied by the
# training `Dataset` to every image each time it is drawn (online); test
# images are never transformed.

# %%
sample_index = int(np.flatnonzero(data.y_train == names.index("Ankle boot"))[0])
sample = data.x_train[sample_index]
SHOWN = {
    "RandomHorizontalFlip(p=0.5)": transforms.RandomHorizontalFlip(p=0.5),
    "RandomCrop(28, padding=2)": transforms.RandomCrop(28, padding=2),
    "RandomRotation(10)": transforms.RandomRotation(10),
    "RandomAffine(0, translate=(0.1, 0.1))": transforms.RandomAffine(0, translate=(0.1, 0.1)),
    "RandomAffine(0, scale=(0.9, 1.1))": transforms.RandomAffine(0, scale=(0.9, 1.1)),
    "ColorJitter(brightness=0.4, contrast=0.4)": transforms.ColorJitter(brightness=0.4, contrast=0.4),
    "RandomErasing(p=1, scale=(0.02, 0.1))": transforms.RandomErasing(p=1.0, scale=(0.02, 0.1)),
}
USED = [transforms.RandomHorizontalFlip(p=0.5), transforms.RandomCrop(28, padding=2)]
lab.md("""### 1.3 Data augmentation

The figure below shows seven transforms. Flips and small shifts keep a garment what it is (a shoe pointing the
other way is still a shoe); rotations, zooms, contrast changes and erased patches are plausible too, but
Fashion-MNIST's images are centred, upright and evenly lit, so they add variation the test set does not
have. We train from scratch with the two the document names:

```python
transform = transforms.Compose([transforms.RandomHorizontalFlip(p=0.5), transforms.RandomCrop(28, padding=2)])
```

(a crop of 28×28 from the image padded by 2 black pixels: shifts of up to 2 pixels each way).""")
fig = viz.show_augmentations(sample, SHOWN, n=6, seed=0)
set_title(fig, f"Each transform applied 6 times to one training image ({names[data.y_train[sample_index]]})")
lab.figure(fig, "q1_3_transforms.png", "Q1.3: the effect of each transformation on one sample (left: the "
           "original; then six random draws).")
cases["augmentation"] = lab.train("q1.3-augmentation", "ex08_mnist_net", data, epochs=S["epochs"],
                                  transforms=USED, **CASE)
lab.md(f"Augmented: {best_line(cases['augmentation'])}; baseline "
       f"{pct(cases['baseline'].results[0]['best_test_accuracy'])}.")

# %% [markdown]
# ## Question 1.4 — batch normalization

# %%
cases["batchnorm"] = lab.train("q1.4-batchnorm", "ex08_mnist_net_bn", data, epochs=S["epochs"], **CASE)
bn_net = build("ex08_mnist_net_bn")
lab.md(f"""### 1.4 Batch normalization

`ex08_mnist_net_bn`: a BatchNorm after conv1, conv2 and fc1, before each ReLU (Keras' defaults: momentum
0.99, ε = 1e-3), {bn_net.count_params():,} parameters of which {bn_net.count_params() - table.total:,} are
new: γ and β per channel ({sum(p.value.size for p in bn_net.trainable_params()) - table.total:,}
trainable) and the moving mean and variance (not trained). Trained from scratch like the baseline:
{best_line(cases['batchnorm'])}.""")

# %% [markdown]
# ## Question 1.5 — fine-tuning a network trained on MNIST
#
# Train the same network on MNIST, keep the weights of its best epoch (the
# runner saves them as `best.npz` whenever the monitored test accuracy
# improves, as `ModelCheckpoint(save_best_only=True)` would), start the
# Fashion-MNIST network from them, and train only fc2.

# %%
mnist = lab.data("mnist")
pretrain = lab.train("q1.5-mnist-pretrain", "ex08_mnist_net", mnist, epochs=S["mnist_epochs"], **CASE)
cases["fine-tuned"] = lab.train("q1.5-finetune", "ex08_mnist_net", data, epochs=S["epochs"],
                                init_from=pretrain, init_weights="best", trainable=["fc2"], **CASE)
p = pretrain.results[0]
start_model = pretrain.runs[0].best_model(mnist)
tuned = cases["fine-tuned"].model()
unchanged = [l.name for l in tuned.layers if l.params and all(
    np.array_equal(v.value, start_model.get_layer(l.name).params[k].value) for k, v in l.params.items())]
changed = [l.name for l in tuned.layers if l.params and l.name not in unchanged]
trainable = sum(v.value.size for v in tuned.trainable_params())
lab.md(f"""### 1.5 Fine-tuning

MNIST ({mnist.source}, {len(mnist.x_train):,} training images): {S['mnist_epochs']} epochs; the best
epoch was {p['best_epoch']} with {pct(p['best_test_accuracy'])} on MNIST's test set. Its weights initialise
the Fashion-MNIST network, every layer is frozen (`layer.trainable = False`) except fc2, which keeps
{trainable:,} of the {table.total:,} parameters trainable, and it trains for {S['epochs']} epochs:
{best_line(cases['fine-tuned'])}.

After the fine-tuning, the weights of {', '.join(unchanged)} are bit-for-bit those of the MNIST network's
best epoch and only {', '.join(changed)} changed: freezing held. The frozen layers were trained to tell
digits apart; on clothes, fc2 can only recombine the 128 fc1 features they compute.""")
lab.answer("q1.5-mnist-best-epoch", p["best_epoch"])
lab.answer("q1.5-mnist-best-test-accuracy", p["best_test_accuracy"])
lab.answer("q1.5-trainable-parameters", trainable)
lab.answer("q1.5-frozen-layers-unchanged", "yes" if changed == ["fc2"] else "no")

# %% [markdown]
# ## Question 1.6 — learning curves
#
# Two figures, as the document asks: the training set and the test set, loss
# and accuracy per epoch, the four cases on each.

# %%
def curves_figure(groups, prefix, title):
    """Loss and accuracy per epoch of each group (mean over seeds, ±1 std band with several seeds)."""
    fig = new_figure(10.5, 3.9)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for k, (label, group) in enumerate(groups.items()):
            mean, std = curve_band(group.histories(), prefix + metric)
            epochs = np.arange(1, len(mean) + 1)
            ax.plot(epochs, mean, "-o", markersize=3, color=f"C{k}", label=label)
            if len(group.results) > 1:
                ax.fill_between(epochs, mean - std, mean + std, color=f"C{k}", alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy" if metric == "loss" else "accuracy")
        ax.set_title(metric)
        ax.set_xticks(epochs)
        ax.grid(True, alpha=0.3)
    axes[1].legend(fontsize=8)
    set_title(fig, title)
    return fig


lab.md("### 1.6 Learning curves")
lab.figure(curves_figure(cases, "", "Training set: mean loss and accuracy over each epoch's batches "
                                    "(dropout on; augmented images for 'augmentation')"),
           "q1_6_training_curves.png", "Q1.6: learning curves on the training set, the four cases.")
lab.figure(curves_figure(cases, "test_", "Test set: loss and accuracy after each epoch (inference mode)"),
           "q1_6_test_curves.png", "Q1.6: learning curves on the test set, the four cases.")
R = {name: g.results[0] for name, g in cases.items()}
best_case = max(R, key=lambda n: R[n]["best_test_accuracy"])
gap = {n: r["history"]["accuracy"][-1] - r["history"]["test_accuracy"][-1] for n, r in R.items()}
first = {n: r["history"]["test_accuracy"][0] for n, r in R.items()}
fastest = max(first, key=first.get)
rising = {n: r["history"]["test_loss"][-1] > min(r["history"]["test_loss"]) for n, r in R.items()}
lowest = min(R, key=lambda n: R[n]["best_test_accuracy"])
lab.md("| case | best epoch | test accuracy, best epoch | test accuracy, last "
       "epoch | training accuracy, last epoch (running) | train − test, last epoch | lowest test loss "
       "(epoch) |\n|---|---|---|---|---|---|---|\n" + "\n".join(
           f"| {n} | {r['best_epoch']} | {pct(r['best_test_accuracy'])} | {pct(r['history']['test_accuracy'][-1])} | "
           f"{pct(r['history']['accuracy'][-1])} | {100 * gap[n]:+.1f} points | {min(r['history']['test_loss']):.3f} "
           f"({int(np.argmin(r['history']['test_loss'])) + 1}) |" for n, r in R.items())
       + f"""

What the curves show. **{best_case}** reached the highest test accuracy
({pct(R[best_case]['best_test_accuracy'])} at epoch {R[best_case]['best_epoch']}); **{fastest}** was
best after one epoch ({pct(first[fastest])}). The fine-tuned network
{'is the lowest of the four' if lowest == 'fine-tuned' else 'is not the lowest'}
({pct(R['fine-tuned']['best_test_accuracy'])}): with the MNIST features frozen only a linear layer
learns, so its test accuracy changes by {100 * (R['fine-tuned']['history']['test_accuracy'][-1] - first['fine-tuned']):+.1f}
points from the first epoch to the last, against {100 * (R['baseline']['history']['test_accuracy'][-1] - first['baseline']):+.1f}
for the baseline. Training minus test accuracy after the last epoch:
{', '.join(f'{n} {100 * g:+.1f} points' for n, g in gap.items())}. With augmentation the training images
are harder (shifted and flipped) while the test images are not, so its gap is
{'smaller than' if gap['augmentation'] < gap['baseline'] else 'not smaller than'} the baseline's.
The test loss {'rises again after its minimum for ' + ', '.join(n for n, v in rising.items() if v)
+ ' (the network grows over-confident on the images it gets wrong: the first sign of over-fitting)'
if any(rising.values()) else 'falls until the last epoch in every case'}.
The best epoch is chosen on the test set, as the document asks, so the best-epoch accuracies are
slightly optimistic; the last-epoch column is the unbiased number.""")
for question, n in (("q1.2", "baseline"), ("q1.3", "augmentation"), ("q1.4", "batchnorm"),
                     ("q1.5", "fine-tuned")):
    lab.answer(f"{question}-best-test-accuracy", R[n]["best_test_accuracy"])
lab.answer("q1.6-best-method", best_case)

# %% [markdown]
# ## Question 2 — t-SNE of the fc1 features
#
# fc1's 128 outputs (before its ReLU) for the training images, through a
# Keras sub-model sharing the trained weights, mapped to 2-D with
# scikit-learn's t-SNE.

# %%
model = cases[best_case].model()
extractor = mc.Model(inputs=model.input, outputs=model.get_layer("fc1").output)
n_tsne = min(S["tsne_n"] or len(data.x_train), len(data.x_train))
if n_tsne < len(data.x_train):   # stratified: the same number of images from every class
    rng = np.random.default_rng(0)
    per_class = n_tsne // data.n_classes
    chosen_idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(data.y_train == k))[:per_class]
                                         for k in range(data.n_classes)]))
else:
    chosen_idx = np.arange(len(data.x_train))
features = extractor.predict(data.x_train[chosen_idx], batch_size=500)
labels = data.y_train[chosen_idx]
# Barnes-Hut t-SNE (scikit-learn's default) is what makes 10,000+ points feasible; on a few hundred
# points the exact method is faster and gives the same kind of map
tsne_method = "exact" if len(features) <= 2000 else "barnes_hut"
points = inspect.tsne(features, seed=0, method=tsne_method)
lab.md("## Question 2 — t-SNE of the fc1 features")
lab.figure(viz.tsne_scatter(points, labels, class_names=names,
                            title=f"t-SNE of the fc1 features of {len(points):,} training images "
                                  f"({best_case} network)"),
           "q2_tsne.png", f"Q2: t-SNE map of the 128-d fc1 features, one colour per class ({len(points):,} "
                          f"training images).")

k_nn = 10
neighbours = NearestNeighbors(n_neighbors=k_nn + 1).fit(points).kneighbors(points, return_distance=False)[:, 1:]
neighbour_labels = labels[neighbours]                            # (n, k_nn): the classes around each point
purity = np.array([np.mean(neighbour_labels[labels == k] == k) for k in range(data.n_classes)])


def most_mixed_with(k):
    """The other class found most often among the neighbours of class k's points."""
    counts = np.bincount(neighbour_labels[labels == k].ravel(), minlength=data.n_classes)
    counts[k] = -1
    return names[int(np.argmax(counts))]


mixed = [int(k) for k in np.argsort(purity)[:3]]
clean = [int(k) for k in np.argsort(purity)[::-1][:3]]
probe = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), features, labels,
                        cv=3).mean()
sil_2d = silhouette_score(points, labels)
network_accuracy = float(np.mean(model.predict(data.x_train[chosen_idx], batch_size=500).argmax(axis=1) == labels))
lab.md(f"""Network: the {best_case} network of question 1 (its final weights). Features:
`mc.Model(inputs=model.input, outputs=model.get_layer("fc1").output).predict(x_train)`, fc1's 128 outputs
before its ReLU, for {len(points):,} training images{'' if n_tsne == len(data.x_train) else
f' (a stratified subset, {per_class:,} per class; the full profile uses every training image)'};
`sklearn.manifold.TSNE(2, perplexity=30, init="pca", method="{tsne_method}", random_state=0)`.

What we see, measured: among the {k_nn} nearest neighbours of a point in the map, on average
{purity.mean():.1%} belong to its own class. The cleanest islands are
{', '.join(f'{names[k]} ({purity[k]:.0%})' for k in clean)}; the most mixed are
{', '.join(f'{names[k]} ({purity[k]:.0%}, mixed mostly with {most_mixed_with(k)})' for k in mixed)}.
The silhouette score of the classes in the map is {sil_2d:.2f} (1: tight, separate clusters; 0:
overlapping ones). How good the fc1 features are for classification: a logistic regression on them alone (standardised)
reaches {probe:.1%} (3-fold cross-validation on these images); the network itself, whose fc2 is a linear
layer on their ReLU, classifies {network_accuracy:.1%} of the same images correctly.""")
lab.answer("q2-tsne-points", len(points))
lab.answer("q2-neighbour-purity", float(purity.mean()))
lab.answer("q2-linear-probe-accuracy", float(probe))
lab.answer("q2-silhouette-2d", float(sil_2d))
lab.answer("q2-network-accuracy-same-images", network_accuracy)

# %% [markdown]
# ## Question 3 — what did the network learn?
#
# The dreamer (`labs/ex08_dreamer.py`): gradient ascent on one class's
# pre-softmax score from an empty image. First the empty image itself: at an
# all-zero input with zero biases the gradient is exactly zero.

# %%
shape = data.x_train.shape[1:]
arch = cases[best_case].runs[0].spec.architecture
fresh = build(arch, seed=0)     # a freshly initialised network: every bias is 0
SHOW = [names.index(n) for n in ("T-shirt/top", "Trouser", "Ankle boot")]
zeros = np.zeros((1,) + shape, dtype=np.float32)
grey = np.full((1,) + shape, GREY, dtype=np.float32)


def gradient_rms(net, x, k):
    return float(np.sqrt(np.mean(class_score_and_gradient(net, x, k)[1] ** 2)))


start_rms = {(net_name, start_name, k): gradient_rms(net, x, k)
             for net_name, net in (("fresh", fresh), ("trained", model))
             for start_name, x in (("zeros", zeros), ("grey", grey)) for k in SHOW}
relu1_at_zero = inspect.activations(model, zeros, layers=["relu1"])["relu1"][0]   # (26, 26, 32)
open_relus = int(np.sum(relu1_at_zero.max(axis=(0, 1)) > 0))      # channels passing a gradient at x = 0
lab.md("## Question 3 — what did the network learn?\n\n### The dreamer, and the empty image")
demo_fig = new_figure(8.6, 2.3 * len(SHOW) + 0.6)
demo_axes = demo_fig.subplots(len(SHOW), 4, squeeze=False)
demo_dreams = {}
for r, k in enumerate(SHOW):
    for c, (net_name, net, start_name, x0) in enumerate([("fresh", fresh, "zeros", zeros), ("fresh", fresh, "grey", grey),
                                                          ("trained", model, "zeros", zeros),
                                                          ("trained", model, "grey", grey)]):
        img, sc = dream(net, k, x0[0], steps=S["dream_steps"])
        demo_dreams[(net_name, start_name, k)] = img
        ax = demo_axes[r, c]
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{net_name}, from {start_name}\ngradient RMS {start_rms[(net_name, start_name, k)]:.1e}, "
                     f"{len(sc) - 1} steps", fontsize=8)
        if c == 0:
            ax.set_ylabel(names[k], fontsize=9)
set_title(demo_fig, f"Dreams from an all-zero image and from a constant grey image ({GREY}): a fresh network "
                    "(zero biases) and the trained one; gradient RMS at the start, steps taken")
lab.figure(demo_fig, "q3_empty_start.png", "Q3: the vanishing gradient at the all-zero image. With zero "
           "biases (fresh network) the ascent from zeros cannot start; from a constant grey image it can.")
fresh_zero = max(start_rms[("fresh", "zeros", k)] for k in SHOW)
same_dream = [np.corrcoef(demo_dreams[("trained", "zeros", k)].ravel(),
                          demo_dreams[("trained", "grey", k)].ravel())[0, 1] for k in SHOW]
lab.md(f"""`dream(model, k, start)` in `labs/ex08_dreamer.py` repeats `x ← clip(x + 0.05 · g / rms(g) − 0.05 · 0.02 · x)`
with `g = ∂s_k/∂x`, the gradient of class k's neuron in fc2 **before the softmax**, computed by the
engine's backward pass (a forward in inference mode, a one-hot seed on the logits, `backward` to the pixels),
and a light Gaussian blur every 4 steps; {S['dream_steps']} steps.

The empty image: for x = 0 the first convolution outputs only its biases. In a fresh network they are 0,
every conv1 ReLU sits exactly at its kink, whose derivative is 0, and the gradient is exactly zero (largest
RMS over the three classes: {fresh_zero:.1e}): gradient ascent never leaves the empty image (first
column). We handle it explicitly, not by starting from noise: `empty_start` computes the gradient at
zeros and, only if it is exactly zero, starts from a *constant grey* image (every pixel {GREY}): still
empty, the same for every class, but every filter whose weights sum to a positive number now receives
a positive input, so its ReLU passes the gradient (second column). In the trained network
{open_relus} of the {relu1_at_zero.shape[-1]} relu1 channels are already open at x = 0 (training moved the
biases away from 0), so its gradient at zeros is not zero (RMS {min(start_rms[('trained', 'zeros', k)] for k in SHOW):.1e} to
{max(start_rms[('trained', 'zeros', k)] for k in SHOW):.1e}) and it starts from zeros itself; from the grey
start its dreams are {'nearly the same' if min(same_dream) > 0.9 else 'not the same'} (third and fourth columns; pixel correlation between the two
{min(same_dream):.2f} to {max(same_dream):.2f}).""")
lab.answer("q3-gradient-rms-at-zeros-fresh-network", fresh_zero)
lab.answer("q3-empty-image-handling", f"constant grey {GREY} image when the gradient at zeros is exactly 0")

# %%
dreams, final_scores, starts = [], [], []
for k in range(data.n_classes):
    x0, how = empty_start(model, k, shape)
    img, sc = dream(model, k, x0, steps=S["dream_steps"])
    dreams.append(img), final_scores.append(float(sc[-1])), starts.append(how)
dreams = np.stack(dreams)
probabilities = model.predict(dreams)[np.arange(data.n_classes), np.arange(data.n_classes)]
cm = inspect.confusion_matrix(model, data.x_test, data.y_test)
class_accuracy = np.diag(cm) / cm.sum(axis=1)
class_means = np.stack([data.x_train[data.y_train == k].mean(axis=0) for k in range(data.n_classes)])
resemblance = np.array([np.corrcoef(dreams[k].ravel(), class_means[k].ravel())[0, 1]
                        for k in range(data.n_classes)])
fig = viz.activation_maximization_grid(
    dreams, titles=[f"{n}\nscore {s:.1f}, test acc. {a:.0%}" for n, s, a in
                    zip(names, final_scores, class_accuracy)], ncols=5,
    title=f"The dreamer: {S['dream_steps']} steps of gradient ascent on each class's pre-softmax score "
          f"({best_case} network)")
lab.figure(fig, "q3_dreams.png", "Q3: the image each class's neuron likes best, with its final score and the "
                                 "class's test accuracy.")


def confusion_with_accuracy(cm, accuracy):
    """The confusion matrix (counts) and, beside it on the same rows, each class's accuracy."""
    fig = new_figure(11, 6.2)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3.2, 1]})
    im = left.imshow(cm, cmap="Blues")
    for i in range(len(cm)):
        for j in range(len(cm)):
            left.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                      color="white" if cm[i, j] > cm.max() / 2 else "black")
    left.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    left.set_yticks(range(len(names)), names, fontsize=8)
    left.set_xlabel("predicted class")
    left.set_ylabel("true class")
    fig.colorbar(im, ax=left, shrink=0.7).set_label("number of test images")
    right.barh(range(len(names)), accuracy, color="C0")
    for i, a in enumerate(accuracy):   # inside the bar, or after it when the bar is too short
        inside = a > 0.2
        right.text(a - 0.02 if inside else a + 0.02, i, f"{a:.0%}", ha="right" if inside else "left",
                   va="center", color="white" if inside else "black", fontsize=8)
    right.set_ylim(len(names) - 0.5, -0.5)
    right.set_yticks(range(len(names)), [])
    right.set_xlim(0, 1)
    right.set_xlabel("accuracy of the class (diagonal / row)")
    set_title(fig, f"Test set ({cm.sum():,} images): confusion matrix and accuracy per class")
    return fig


lab.figure(confusion_with_accuracy(cm, class_accuracy), "q3_confusion.png",
           "Q3: confusion matrix on the test set (rows: true class) and each class's accuracy beside it.")

rho_score, p_score = spearmanr(class_accuracy, final_scores)
rho_like, p_like = spearmanr(class_accuracy, resemblance)
strong = [(rho, p) for rho, p in ((rho_score, p_score), (rho_like, p_like)) if rho > 0 and p < 0.05]
verdict = "yes" if len(strong) == 2 else ("partly" if strong else "no")
order = np.argsort(class_accuracy)
off_diagonal = cm - np.diag(np.diag(cm))
worst_pair = [int(i) for i in np.unravel_index(np.argmax(off_diagonal), cm.shape)]
lab.md("### Every class, the confusion matrix, and the correlation\n\n"
       f"Each class starts from the empty image ({', '.join(sorted(set(starts)))}, as `empty_start` chose). "
       "Per class:\n\n| class | test accuracy | dream's score s_k | dream's softmax probability | "
       "resemblance to the class's mean image |\n|---|---|---|---|---|\n" + "\n".join(
           f"| {names[k]} | {pct(class_accuracy[k])} | {final_scores[k]:.1f} | {probabilities[k]:.3f} | "
           f"{resemblance[k]:+.2f} |" for k in order[::-1])
       + f"""

Resemblance is the Pearson correlation between the dream and the average training image of its class,
pixel by pixel: a proxy for "does it look like the class" that does not ask the network. Most accurate:
{', '.join(f'{names[k]} ({pct(class_accuracy[k])})' for k in order[::-1][:3])}; least accurate:
{', '.join(f'{names[k]} ({pct(class_accuracy[k])})' for k in order[:3])}. The largest off-diagonal cell:
{int(off_diagonal.max())} {names[worst_pair[0]]} images taken for {names[worst_pair[1]]}.

**Does the accuracy of a class correlate with the quality of its generated image?** Measured over the ten
classes with Spearman's rank correlation: accuracy against the dream's final score, ρ = {rho_score:+.2f}
(p = {p_score:.2f}); accuracy against the resemblance to the class's mean image, ρ = {rho_like:+.2f}
(p = {p_like:.2f}). Answer: **{verdict}** —
{'both measures of quality rise with the accuracy of the class' if verdict == 'yes' else
('only one of the two measures of quality rises significantly with the accuracy' if verdict == 'partly' else
'with ten classes, neither measure of quality follows the accuracy significantly')}. A high score
alone does not make an image recognisable: gradient ascent finds the pattern that separates a class from
the others for this network, which need not be the garment a person would draw.""")
lab.answer("q3-spearman-accuracy-vs-score", float(rho_score))
lab.answer("q3-spearman-accuracy-vs-resemblance", float(rho_like))
lab.answer("q3-accuracy-correlates-with-image-quality", verdict)

lab.finish()
