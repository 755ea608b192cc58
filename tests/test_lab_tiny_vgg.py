"""Lab tiny VGG: the networks as the document describes them (parameter counts by hand), and the
quick profile end to end on the offline CIFAR-10 copy."""
import json

import numpy as np
import pytest

from labs.architectures import build
from minicnn import inspect
from minicnn.cli import main
from tests.conftest import SHARED_DATA


def conv(k, c_in, f):
    return k * k * c_in * f + f


def test_tiny_vgg_has_keras_parameter_count():
    assert build("tiny_vgg").count_params() == (conv(3, 3, 32) + conv(3, 32, 32) + conv(3, 32, 64)
                                                + conv(3, 64, 64) + (8 * 8 * 64 * 128 + 128) + (128 * 10 + 10)) == 591274


def test_tiny_resnet_parameter_count_by_hand():
    stem = conv(7, 3, 32) + 4 * 32                 # 7x7 conv, BatchNorm (gamma, beta, moving mean, variance)
    block1 = conv(3, 32, 32) + conv(3, 32, 32)     # same channel count: identity shortcut
    block2 = conv(3, 32, 64) + conv(3, 64, 64) + conv(1, 32, 64)   # 1x1 projection shortcut 32 -> 64
    head = (4 * 4 * 64 * 128 + 128) + (128 * 10 + 10)              # AvgPool(4): 16x16 -> 4x4
    model = build("tiny_resnet")
    assert model.count_params() == stem + block1 + block2 + head == 213386
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds.count("Add") == 2 and "MaxPool2D" in kinds and kinds.count("MaxPool2D") == 1


def test_tiny_resnet_control_only_drops_the_shortcuts():
    with_shortcuts, plain = build("tiny_resnet"), build("tiny_resnet_plain")
    assert plain.count_params() == with_shortcuts.count_params() - conv(1, 32, 64) == 211274
    assert ([l.name for l in plain.layers]
            == [l.name for l in with_shortcuts.layers if type(l).__name__ != "Add" and "projection" not in l.name])
    # each block's output: ReLU(conv2 + block input) with shortcuts, ReLU(conv2) without
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype(np.float32)
    names = ["stem_pool", "block1_conv2", "block1_out"]
    a = inspect.activations(with_shortcuts, x, layers=names)
    np.testing.assert_allclose(a["block1_out"], np.maximum(a["block1_conv2"] + a["stem_pool"], 0), atol=1e-5)
    p = inspect.activations(plain, x, layers=names)
    np.testing.assert_array_equal(p["block1_out"], np.maximum(p["block1_conv2"], 0))


def test_variants_change_only_what_the_questions_say():
    base = [type(l).__name__ for l in build("tiny_vgg").layers]
    bn = [type(l).__name__ for l in build("tiny_vgg_bn").layers]
    assert [k for k in bn if k != "BatchNorm"] == base
    assert [bn[i + 1] for i, k in enumerate(bn) if k == "Conv2D"] == ["BatchNorm"] * 4   # after each conv
    third = [type(l).__name__ for l in build("tiny_vgg_3blocks").layers]
    assert third.count("Conv2D") == 6 and third.count("MaxPool2D") == 3
    assert build("tiny_vgg_3blocks").get_layer("block3_conv1").params["kernel"].value.shape == (3, 3, 64, 128)


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "cifar10-jpeg").is_dir(), reason="needs the offline CIFAR-10 copy")
def test_quick_profile_end_to_end(tmp_path):
    assert main(["lab", "run", "tiny_vgg", "--profile", "quick", "--out", str(tmp_path), "--report-dir",
                 str(tmp_path / "report"), "--no-progress"]) == 0
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [(r["exercise"], r["seed"]) for r in results["runs"]] == [
        (e, s) for e in ("q6-original", "q13-batchnorm", "q14-third-block", "q15-tiny-resnet",
                         "q15-without-shortcuts") for s in (0, 1)]
    for r in results["runs"]:
        assert set(r["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"}
        assert r["best_test_accuracy"] == r["history"]["test_accuracy"][r["best_epoch"] - 1]
    original = [r["test_accuracy"] for r in results["runs"] if r["exercise"] == "q6-original"]
    assert results["answers"]["q9-test-accuracy-mean"] == pytest.approx(np.mean(original))
    assert results["answers"]["q9-test-accuracy-std"] == pytest.approx(np.std(original, ddof=1))
    mean = {e: np.mean([r["test_accuracy"] for r in results["runs"] if r["exercise"] == e])
            for e in ("q6-original", "q15-tiny-resnet", "q15-without-shortcuts")}
    assert results["answers"]["q15-tiny-resnet-minus-without-shortcuts-points"] == pytest.approx(
        100 * (mean["q15-tiny-resnet"] - mean["q15-without-shortcuts"]))
    assert results["answers"]["q15-without-shortcuts-minus-original-points"] == pytest.approx(
        100 * (mean["q15-without-shortcuts"] - mean["q6-original"]))
    early = {e: np.mean([r["best_test_accuracy"] for r in results["runs"] if r["exercise"] == e]) for e in mean}
    assert results["answers"]["q15-tiny-resnet-minus-without-shortcuts-points-early-stopping"] == pytest.approx(
        100 * (early["q15-tiny-resnet"] - early["q15-without-shortcuts"]))
    text = (tmp_path / "report" / "README.md").read_text()
    for q in range(1, 16):
        assert f"Q{q}" in text, f"Q{q}"
    linked = {line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")}
    # 7 figures without Q12's, which needs the ResNet50 weight file
    assert linked == {p.name for p in (tmp_path / "report").glob("*.png")} and len(linked) >= 7
