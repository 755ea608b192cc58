"""Lab Ex08 (Fashion-MNIST the PyTorch way) end to end on its quick profile (real Fashion-MNIST and MNIST
from ../shared/data): results.json's schema and exercises, every question answered with its figures,
the frozen layers bit-identical through the fine-tuning; the parameter counts against PyTorch's; the
dreamer's gradient against central differences."""
import json

import numpy as np
import pytest

from labs.architectures import build
from labs.catalog import EX08_OPTIMIZERS
from labs.ex08_dreamer import GREY, class_score_and_gradient, dream, empty_start
from minicnn import inspect
from tests.conftest import SHARED_DATA, to_float64, run_quick_lab

MAIN_RUNS = ("q1.2-baseline", "q1.3-augmentation", "q1.4-batchnorm", "q1.5-mnist-pretrain", "q1.5-finetune")


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    return run_quick_lab("ex08", tmp_path_factory)


def _results(quick_report):
    return json.loads((quick_report / "report" / "results.json").read_text())


@pytest.mark.realdata
@pytest.mark.skipif(not ((SHARED_DATA / "fashion-mnist").is_dir() and (SHARED_DATA / "mnist").is_dir()),
                    reason="needs Fashion-MNIST and MNIST in ../shared/data")
class TestQuickProfile:
    def test_results_json_has_the_runners_schema_and_every_exercise(self, quick_report):
        results = _results(quick_report)
        assert results["lab"] == "ex08" and results["profile"] == "quick"
        assert "Fashion-MNIST" in results["data"] and "MNIST (official files)" in results["data"]
        runs = {(r["exercise"], r["variant"]): r for r in results["runs"]}
        assert set(runs) == ({("q1.2-optimizer", v) for v in EX08_OPTIMIZERS} | {(e, "") for e in MAIN_RUNS})
        need = {"exercise", "variant", "seed", "epochs", "batch_size", "params", "history", "train_accuracy",
                "test_accuracy", "test_loss", "best_epoch", "best_test_accuracy", "wall_s"}
        for r in results["runs"]:
            assert need <= set(r) and 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
        for e in MAIN_RUNS:   # test set after every epoch; the best epoch is the best test accuracy
            h = runs[(e, "")]["history"]
            assert len(h["test_accuracy"]) == runs[(e, "")]["epochs"] == len(h["loss"])
            assert runs[(e, "")]["best_epoch"] == int(np.argmax(h["test_accuracy"])) + 1
            assert runs[(e, "")]["best_test_accuracy"] == max(h["test_accuracy"])
        assert runs[("q1.2-baseline", "")]["params"] == 1_199_882
        assert runs[("q1.4-batchnorm", "")]["params"] == 1_200_778
        assert runs[("q1.5-finetune", "")]["trainable_params"] == 128 * 10 + 10
        answers = results["answers"]
        assert answers["q1.2-parameters"] == 1_199_882
        assert answers["q1.2-optimizer"] in EX08_OPTIMIZERS
        chosen = max(EX08_OPTIMIZERS, key=lambda v: runs[("q1.2-optimizer", v)]["best_val_accuracy"])
        assert answers["q1.2-optimizer"] == chosen
        assert runs[("q1.2-baseline", "")]["best_test_accuracy"] == answers["q1.2-best-test-accuracy"]
        assert answers["q1.5-frozen-layers-unchanged"] == "yes"
        assert answers["q1.6-best-method"] in ("baseline", "augmentation", "batchnorm", "fine-tuned")
        assert answers["q2-tsne-points"] == 160
        assert answers["q3-gradient-rms-at-zeros-fresh-network"] == 0.0
        assert answers["q3-accuracy-correlates-with-image-quality"] in ("yes", "partly", "no")

    def test_report_answers_every_question_with_its_figures(self, quick_report):
        folder = quick_report / "report"
        text = (folder / "README.md").read_text()
        for heading in ("### 1.1 Pre-processing", "### 1.2 Baseline", "#### Optimizer and learning rate",
                        "model.train_on_batch(x, y)", "### 1.3 Data augmentation", "### 1.4 Batch normalization",
                        "### 1.5 Fine-tuning", "### 1.6 Learning curves", "## Question 2", "## Question 3",
                        "The empty image", "Does the accuracy of a class correlate", "| **total** | | | | **1,199,882** |"):
            assert heading in text, heading
        linked = {line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")}
        assert linked == {p.name for p in folder.glob("*.png")}
        assert {"q1_1_samples.png", "q1_3_transforms.png", "q1_6_training_curves.png", "q1_6_test_curves.png",
                "q2_tsne.png", "q3_empty_start.png", "q3_dreams.png", "q3_confusion.png"} <= linked

    def test_finetuning_leaves_the_frozen_weights_bit_identical(self, quick_report):
        """The fine-tuned run's final weights equal the MNIST run's best epoch everywhere but in fc2."""
        runs = quick_report / "ex08" / "quick"
        with np.load(runs / "q1.5-mnist-pretrain" / "seed0" / "best.npz") as z:
            start = {name: z[f"weights/{i:03d}"] for i, name in enumerate(json.loads(str(z["__meta__"]))["names"])}
        with np.load(runs / "q1.5-finetune" / "seed0" / "checkpoint.npz") as z:
            meta = json.loads(str(z["__meta__"]))
            tuned = {name: z[f"weights/{i:03d}"] for i, name in enumerate(meta["names"])}
        assert meta["epoch"] == 2 and start.keys() == tuned.keys()
        frozen = [k for k in start if not k.startswith("fc2/")]
        assert len(frozen) == 6                                  # conv1, conv2, fc1: kernel and bias
        for k in frozen:
            np.testing.assert_array_equal(tuned[k], start[k], err_msg=k)
        assert not np.array_equal(tuned["fc2/kernel"], start["fc2/kernel"])


def test_parameter_counts_match_pytorch():
    """PyTorch's MNIST example network (pytorch/examples mnist/main.py) and its BatchNorm variant:
    the same count per layer and in total as minicnn's tables."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    example = {"conv1": nn.Conv2d(1, 32, 3, 1), "conv2": nn.Conv2d(32, 64, 3, 1),
               "fc1": nn.Linear(9216, 128), "fc2": nn.Linear(128, 10)}
    table = {r.name: r.params for r in inspect.parameter_table(build("ex08_mnist_net"))}
    for name, module in example.items():
        assert table[name] == sum(p.numel() for p in module.parameters()), name
    assert sum(table.values()) == sum(p.numel() for m in example.values() for p in m.parameters()) == 1_199_882
    bn = build("ex08_mnist_net_bn")
    torch_bn = sum(p.numel() for p in [*example.values(), nn.BatchNorm2d(32), nn.BatchNorm2d(64),
                                       nn.BatchNorm1d(128)] for p in p.parameters())
    assert sum(p.value.size for p in bn.trainable_params()) == torch_bn == 1_200_330  # buffers not counted


def _small_net(biases=True, seed=3):
    """The reduced copy of the Ex08 network (8x8x1, 2/3 filters, 4 units) in float64; random biases so
    no ReLU sits at its kink."""
    model = build("ex08_mnist_net", reduced=True, seed=seed)
    to_float64(model)
    rng = np.random.default_rng(seed)
    if biases:
        for layer in model.layers:
            if "bias" in layer.params:
                layer.params["bias"].value = rng.normal(0, 0.5, layer.params["bias"].value.shape)
    return model


def test_dreamer_gradient_equals_central_differences():
    model = _small_net()
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 1))
    h = 1e-6
    for k in (0, 4, 9):
        score, grad = class_score_and_gradient(model, x, k)
        np.testing.assert_allclose(score, model.forward(x, logits=True)[:, k], rtol=1e-12)
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[idx] += h
            down[idx] -= h
            numeric[idx] = (model.forward(up, logits=True)[idx[0], k]
                            - model.forward(down, logits=True)[idx[0], k]) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
        assert np.abs(grad).max() > 1e-3    # a real gradient, not two zeros agreeing


def test_empty_start_and_the_ascent():
    """Zero biases: the gradient at the all-zero image is exactly 0, the ascent takes no step, and
    empty_start switches to the grey image, from which the class score rises. With biases that open
    the first ReLUs the all-zero image is kept."""
    fresh = build("ex08_mnist_net", reduced=True, seed=0)          # biases 0, as initialised
    _, grad = class_score_and_gradient(fresh, np.zeros((1, 8, 8, 1), np.float32), 3)
    assert not np.any(grad)
    image, scores = dream(fresh, 3, np.zeros((8, 8, 1), np.float32), steps=10)
    assert len(scores) == 1 and not np.any(image)                   # stuck: no step taken
    start, how = empty_start(fresh, 3, (8, 8, 1))
    assert how == "grey" and np.all(start == np.float32(GREY))
    image, scores = dream(fresh, 3, start, steps=10)
    assert len(scores) == 11 and scores[-1] > scores[0] and 0 <= image.min() and image.max() <= 1

    trained_like = build("ex08_mnist_net", reduced=True, seed=0)
    trained_like.get_layer("conv1").params["bias"].value[:] = 0.1   # open ReLUs at x = 0
    start, how = empty_start(trained_like, 3, (8, 8, 1))
    assert how == "zeros" and not np.any(start)
