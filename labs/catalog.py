"""The labs, their exercises and their profiles.

For each lab: the module, the course document, and per profile the settings
the lab script reads (``lab.settings``) and the plan of its trainings (which
``minicnn lab list`` turns into time estimates, and which the runner checks
each ``lab.train`` call against, so estimates and scripts cannot drift apart).

Profiles (the same three for every lab):
- ``quick``:  a few minutes or less, small subsets, few epochs; runs in ``make test``.
- ``report``: the settings behind the committed report in ``labs/reports/<lab>/``.
- ``full``:   the document's own settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List

PROFILES = ("quick", "report", "full")


@dataclass(frozen=True)
class PlannedRun:
    """One training the lab will do (for each of ``seeds`` seeds)."""
    exercise: str
    architecture: str
    epochs: int
    n_train: int          # training images per epoch (after the validation split)
    seeds: int = 1
    variant: str = ""
    first_seed: int = 0   # seeds first_seed .. first_seed + seeds - 1 (an exercise per seed: one each)


@dataclass
class LabSpec:
    name: str
    module: str                    # e.g. "labs.pw09_augmentation"
    document: str                  # the seed file in ../shared/seeds/
    title: str
    settings: Dict[str, dict]      # profile -> settings the script reads
    plan: Callable[[dict], List[PlannedRun]]
    differences: Dict[str, str] = field(default_factory=dict)  # profile -> how it differs from the document

    def planned(self, profile: str) -> List[PlannedRun]:
        return self.plan(self.settings[profile])


# ------------------------------------------------------------------ PW09
PW09_STRATEGIES = ("flip", "flip-shift", "flip-shift-rotate-zoom")


def _pw09_plan(s):
    n_fit = s["n_train"] - int(s["n_train"] * s["validation_split"])
    runs = [PlannedRun("ex1a-baseline", "pw09_cnn", s["epochs"], n_fit, s["seeds"])]
    runs += [PlannedRun(f"ex1b-{k}", "pw09_cnn", s["epochs"], n_fit, s["seeds"]) for k in PW09_STRATEGIES]
    if s["long_epochs"]:
        runs += [PlannedRun("ex1-long-baseline", "pw09_cnn", s["long_epochs"], n_fit, s["seeds"]),
                 PlannedRun("ex1-long-best", "pw09_cnn", s["long_epochs"], n_fit, s["seeds"])]
    return runs


_PW09_DOC = dict(n_train=50000, n_test=10000, epochs=10, batch_size=128, validation_split=0.1, seeds=1,
                 long_epochs=30)  # the longer pair: no augmentation against the best 10-epoch strategy

LABS: Dict[str, LabSpec] = {
    "pw09": LabSpec(
        name="pw09", module="labs.pw09_augmentation", document="000_f2ac0f2d3945c5ab.txt",
        title="PW09 - Feature visualization and data augmentation (CIFAR-10)",
        settings={
            "quick": dict(_PW09_DOC, n_train=640, n_test=200, epochs=2, long_epochs=3),
            "report": dict(_PW09_DOC),
            "full": dict(_PW09_DOC),
        },
        plan=_pw09_plan,
        differences={
            "quick": "640 training and 200 test images, 2 epochs (3 for the longer pair): a smoke test, "
                     "its numbers mean nothing",
            "report": "the document's settings (10 epochs, batch 128, all 50,000 / 10,000 images, 10 % of the "
                      "training images for validation, one run per experiment), plus a longer pair of runs "
                      "(30 epochs, no augmentation against the best strategy of the 10-epoch runs)",
            "full": "the document's settings plus a longer pair of runs (30 epochs, no augmentation against "
                    "the best strategy of the 10-epoch runs)",
        },
    ),
}


def get(name: str) -> LabSpec:
    if name not in LABS:
        raise ValueError(f"unknown lab {name!r}; labs: {', '.join(sorted(LABS))}")
    return LABS[name]


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    return profile


# ------------------------------------------------------------------ tiny VGG (seed 002)
TINY_VGG_VARIANTS = (("q6-original", "tiny_vgg"), ("q13-batchnorm", "tiny_vgg_bn"),
                     ("q14-third-block", "tiny_vgg_3blocks"), ("q15-tiny-resnet", "tiny_resnet"))
# Not asked by the document: the tiny ResNet without its shortcuts. Q15 asks whether the residual
# connections help, and the tiny ResNet also changes the stem and the pooling; this control isolates them.
TINY_VGG_CONTROLS = (("q15-without-shortcuts", "tiny_resnet_plain"),)


def _tiny_vgg_plan(s):
    n_fit = s["n_train"] - int(s["n_train"] * s["validation_split"])
    return [PlannedRun(exercise, arch, s["epochs"], n_fit, s["seeds"])
            for exercise, arch in TINY_VGG_VARIANTS + TINY_VGG_CONTROLS]


_TINY_VGG_DOC = dict(n_train=50000, n_test=10000, epochs=100, batch_size=128, validation_split=0.3, seeds=5)

LABS["tiny_vgg"] = LabSpec(
    name="tiny_vgg", module="labs.tiny_vgg", document="002_09346233500a1236.txt",
    title="Tiny VGG on CIFAR-10 - training, robustness over seeds, features, BatchNorm, a third block, "
          "a tiny ResNet",
    settings={
        "quick": dict(_TINY_VGG_DOC, n_train=400, n_test=200, epochs=2, seeds=2),
        "report": dict(_TINY_VGG_DOC, epochs=30, seeds=3),
        "full": dict(_TINY_VGG_DOC),
    },
    plan=_tiny_vgg_plan,
    differences={
        "quick": "400 training and 200 test images, 2 epochs, 2 seeds: a smoke test, its numbers mean nothing",
        "report": "30 epochs instead of 100 and 3 seeds instead of 5 or 10 per network (the document's 100 "
                  "epochs x 5 seeds x 4 networks is days on 2 cores); batch 128, 30 % validation, all images, "
                  "as the document; plus a control the document does not ask for (Q15's tiny ResNet without "
                  "its shortcuts)",
        "full": "the document's settings: 100 epochs, batch 128, 30 % validation, 5 seeds, 4 networks (and the "
                "control without shortcuts)",
    },
)


# ------------------------------------------------------------------ PW08 (seed 001)
# Exercise 2's tuned MLPs: (variant, architecture, Adam learning rate); exercise 3's deeper CNNs:
# (variant, architecture). The lab script trains exactly these, under "ex2-mlp-tuned-<variant>" and
# "ex3-deeper-<variant>".
PW08_MLP_TUNED = (("512", "pw08_mlp_512", 1e-3), ("512-256", "pw08_mlp_512_256", 1e-3),
                  ("512-256-dropout", "pw08_mlp_512_256_dropout", 1e-3),
                  ("512-256-lr1e-4", "pw08_mlp_512_256", 1e-4))
PW08_DEEPER = (("2conv", "pw08_cnn_2conv"), ("3conv", "pw08_cnn_3conv"), ("3conv-5x5", "pw08_cnn_3conv_5x5"))


def _pw08_plan(s):
    n_fit = s["n_train"] - int(s["n_train"] * s["validation_split"])
    run = lambda exercise, arch, epochs: PlannedRun(exercise, arch, epochs, n_fit, s["seeds"])
    return ([run("ex2-dense-l2", "pw08_dense_l2", s["dense_epochs"]),
             run("ex2-dense-no-l2", "pw08_dense", s["dense_epochs"]),
             run("ex2-mlp", "pw08_mlp", s["mlp_epochs"])]
            + [run(f"ex2-mlp-tuned-{v}", arch, s["mlp_epochs"]) for v, arch, _ in PW08_MLP_TUNED]
            + [run("ex3-simple-cnn", "pw08_cnn", s["cnn_epochs"])]
            + [run(f"ex3-deeper-{v}", arch, s["cnn_epochs"]) for v, arch in PW08_DEEPER])


# The document: all 50,000 / 10,000 images, batch 128, Adam; 5 epochs (dense), 30 (MLP); it gives no epoch
# count for the CNNs (10 here). The validation split is ours (see the differences).
_PW08_DOC = dict(n_train=50000, n_test=10000, batch_size=128, validation_split=0.1, seeds=1,
                 dense_epochs=5, mlp_epochs=30, cnn_epochs=10)

LABS["pw08"] = LabSpec(
    name="pw08", module="labs.pw08_cnn_basics", document="001_55261d5dca55fd6a.txt",
    title="PW08 - Convolutions by hand, shallow networks and CNNs on CIFAR-10",
    settings={
        "quick": dict(_PW08_DOC, n_train=400, n_test=200, dense_epochs=2, mlp_epochs=2, cnn_epochs=2),
        "report": dict(_PW08_DOC),
        "full": dict(_PW08_DOC),
    },
    plan=_pw08_plan,
    differences={
        "quick": "400 training and 200 test images, 2 epochs per network: a smoke test, its numbers mean nothing",
        "report": "the document's settings (all 50,000 / 10,000 images, batch 128, Adam, 5 epochs for the "
                  "one-layer networks, 30 for the MLPs), one run per network; the document gives no epoch "
                  "count for the CNNs: 10 here; the last 10 % of the training images are held out for "
                  "validation (the document has none) so that the best tuned MLP and the best CNN are chosen "
                  "without looking at the test set: the networks train on 45,000 images, not 50,000",
        "full": "the same as report",
    },
)


# ------------------------------------------------------------------ PW11 (seed 003)
def _pw11_plan(s):
    """One exercise per seed of part 1 (p1-cnn-seed<k>, the seed in its name, as the report cites them),
    then the GAP network fine-tuned from seed 0's conv layers (p3-cam-finetune)."""
    runs = [PlannedRun(f"p1-cnn-seed{k}", "pw11_cnn", s["epochs"], s["n_train"], 1, first_seed=k)
            for k in range(s["seeds"])]
    return runs + [PlannedRun("p3-cam-finetune", "pw11_cam", s["cam_epochs"], s["n_train"], 1)]


_PW11_DOC = dict(n_train=60000, n_test=10000, epochs=10, batch_size=128, seeds=2, cam_epochs=8,
                 am_steps=(30, 100, 300), am_filters=6, cam_per_class=3, n_wrong=8)

LABS["pw11"] = LabSpec(
    name="pw11", module="labs.pw11_understanding", document="003_d309c0efa0b98dfa.txt",
    title="PW11 - Understanding deep neural networks: filter statistics, activation maximization, class "
          "activation maps (MNIST)",
    settings={
        "quick": dict(_PW11_DOC, n_train=1000, n_test=300, epochs=1, cam_epochs=1, am_steps=(5, 15), am_filters=3,
                      cam_per_class=1, n_wrong=4),
        "report": dict(_PW11_DOC),
        "full": dict(_PW11_DOC),
    },
    plan=_pw11_plan,
    differences={
        "quick": "1,000 training and 300 test images, 1 epoch, activation maximization with 5 and 15 steps: a "
                 "smoke test, its numbers mean nothing",
        "report": "the document gives no training settings (its notebooks are not in our copy): all 60,000 "
                  "training images, 10 epochs, batch 128, Adam, two seeds (the document's 'train again'); the "
                  "GAP network fine-tuned 8 epochs; statistics over the 10,000 test images",
        "full": "the same as report (the document fixes no epochs, batch size or number of runs)",
    },
)


# ------------------------------------------------------------------ Ex08 (seed 004)
# Q1.2's short optimizer comparison (variant -> optimizer config): the lab trains each under
# "q1.2-optimizer", picks the best validation accuracy, and trains the four cases of Q1 with it.
EX08_OPTIMIZERS = {
    "adam-lr1e-2": {"class_name": "Adam", "learning_rate": 1e-2},
    "adam-lr1e-3": {"class_name": "Adam", "learning_rate": 1e-3},
    "adam-lr1e-4": {"class_name": "Adam", "learning_rate": 1e-4},
    "sgd-lr1e-2-momentum0.5": {"class_name": "SGD", "learning_rate": 1e-2, "momentum": 0.5},
}


def _ex08_plan(s):
    net, n = "ex08_mnist_net", s["n_train"]
    lr_fit = s["lr_n_train"] - int(s["lr_n_train"] * s["lr_validation_split"])
    return ([PlannedRun("q1.2-optimizer", net, s["lr_epochs"], lr_fit, s["seeds"], variant=v)
             for v in EX08_OPTIMIZERS]
            + [PlannedRun("q1.2-baseline", net, s["epochs"], n, s["seeds"]),
               PlannedRun("q1.3-augmentation", net, s["epochs"], n, s["seeds"]),
               PlannedRun("q1.4-batchnorm", "ex08_mnist_net_bn", s["epochs"], n, s["seeds"]),
               PlannedRun("q1.5-mnist-pretrain", net, s["mnist_epochs"], n, s["seeds"]),
               PlannedRun("q1.5-finetune", net, s["epochs"], n, s["seeds"])])


# The document: all 60,000 / 10,000 images, 10 epochs per case, the test set after every epoch; batch 64 as
# PyTorch's example. It fixes no epochs for the MNIST pre-training (10 here) and has no optimizer comparison
# (ours: 2 epochs on 10,000 images, 20 % of them for validation). tsne_n None: every training image.
_EX08_DOC = dict(n_train=60000, n_test=10000, epochs=10, mnist_epochs=10, batch_size=64, seeds=1,
                 lr_n_train=10000, lr_n_test=2000, lr_epochs=2, lr_validation_split=0.2, tsne_n=None,
                 dream_steps=200)

LABS["ex08"] = LabSpec(
    name="ex08", module="labs.ex08_fashion_mnist", document="004_4b2a9e500e9a02dd.txt",
    title="Ex08 - Fashion-MNIST the PyTorch way: parameter counts, augmentation, BatchNorm, fine-tuning a "
          "frozen MNIST network, t-SNE of fc1, a dreamer",
    settings={
        "quick": dict(_EX08_DOC, n_train=320, n_test=160, epochs=2, mnist_epochs=2, lr_n_train=200, lr_n_test=100,
                      lr_epochs=1, tsne_n=160, dream_steps=20),
        "report": dict(_EX08_DOC, mnist_epochs=5, tsne_n=10000),
        "full": dict(_EX08_DOC),
    },
    plan=_ex08_plan,
    differences={
        "quick": "320 Fashion-MNIST / MNIST training and 160 test images, 2 epochs per case, a 1-epoch optimizer "
                 "comparison on 200 images, t-SNE of 160 points, 20 dreamer steps: a smoke test, its numbers "
                 "mean nothing",
        "report": "the document's settings for the four cases (all 60,000 / 10,000 images, 10 epochs each, test "
                  "set after every epoch, batch 64); MNIST pre-training 5 epochs (the document fixes none); "
                  "t-SNE of a stratified subset of 10,000 training images (1,000 per class) instead of all "
                  "60,000",
        "full": "the document's settings; MNIST pre-training 10 epochs; t-SNE of all 60,000 training images",
    },
)
