"""Lab PW11 (understanding a CNN on MNIST): the two networks as described, the per-class filter
statistics against a direct NumPy computation, CAM against Grad-CAM on the GAP network (the known
identity), and the quick profile end to end on the official MNIST files in ../shared/data."""
import json

import numpy as np
import pytest

from labs._runner import checkpoint
from labs.architectures import build
from minicnn import inspect
from tests.conftest import SHARED_DATA, run_quick_lab

CONV = {"L1": ("relu1", "conv1"), "L2": ("relu2", "conv2"), "L3": ("relu3", "conv3")}


def conv(k, c_in, f):
    return k * k * c_in * f + f


def test_pw11_networks_share_their_conv_layers_and_have_the_parameter_counts_by_hand():
    cnn, cam = build("pw11_cnn"), build("pw11_cam")
    convs = conv(5, 1, 9) + conv(5, 9, 9) + conv(3, 9, 16)
    assert cnn.count_params() == convs + (3 * 3 * 16 * 25 + 25) + (25 * 10 + 10) == 7465
    assert cam.count_params() == convs + (16 * 10 + 10) == 3750
    for name in ("conv1", "conv2", "conv3"):   # what init_from copies, by name
        assert cnn.get_layer(name).params["kernel"].value.shape == cam.get_layer(name).params["kernel"].value.shape
    assert [type(l).__name__ for l in cam.layers][-2:] == ["GlobalAvgPool2D", "Dense"]


def layer_outputs(model, x):
    """Every layer's output, computed layer by layer with the layers' own forward (no inspect)."""
    out, a = {}, x
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        a = layer.forward(a)
        out[layer.name] = a
    return out


def direct_statistics(maps, y, classes):
    """Per class: the mean map (K, h, w, F) and, per pixel, the most frequent argmax filter (K, h, w),
    ties to the smallest filter index (np.argmax of the counts)."""
    F = maps.shape[-1]
    means = np.stack([maps[y == c].mean(axis=0) for c in classes])
    winners = maps.argmax(axis=-1)                                    # (N, h, w)
    modes = np.stack([np.apply_along_axis(lambda v: np.bincount(v, minlength=F).argmax(), 0, winners[y == c])
                      for c in classes])
    return means, modes


def test_filter_statistics_equal_a_direct_numpy_computation_on_a_small_batch():
    rng = np.random.default_rng(0)
    model = build("pw11_cnn", seed=3)
    x = rng.random((40, 28, 28, 1), dtype=np.float32) * (rng.random((40, 28, 28, 1)) > 0.6)
    y = rng.integers(0, 4, 40)
    outputs = layer_outputs(model, x)
    for relu, conv_name in CONV.values():
        for layer in (relu, conv_name):
            stats = inspect.filter_statistics(model, x, y, layer, batch_size=16)   # several batches
            means, modes = direct_statistics(outputs[layer], y, np.arange(4))
            np.testing.assert_allclose(stats.mean_maps, means, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(stats.mean_activation, means.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(stats.mode_maps, modes)
            np.testing.assert_array_equal(stats.counts, np.bincount(y))


def test_cam_on_the_gap_network_is_the_relu_of_grad_cam_times_the_number_of_positions():
    """Behind a global average pooling d logit_c / dA[i, j, f] = w[f, c] / (h w) at every position, so
    Grad-CAM's weights are w[f, c] / (h w) and Grad-CAM = ReLU(CAM) / (h w)."""
    rng = np.random.default_rng(1)
    model = build("pw11_cam", seed=2)
    x = rng.random((12, 28, 28, 1), dtype=np.float32)
    classes = np.arange(12) % 10
    cam = inspect.class_activation_map(model, x, classes)
    grad = inspect.grad_cam(model, x, classes, layer="relu3")
    assert cam.shape == grad.shape == (12, 7, 7)
    assert (cam < 0).any() and (cam > 0).any()       # the ReLU matters on these maps
    np.testing.assert_allclose(grad, np.maximum(cam, 0) / 49, rtol=1e-4, atol=1e-7 * np.abs(cam).max())
    # and CAM's mean over the positions is the class score minus its bias (CAM splits the score)
    logits = model.forward(x, logits=True)
    bias = model.get_layer("dense").params["bias"].value
    np.testing.assert_allclose(cam.mean(axis=(1, 2)), logits[np.arange(12), classes] - bias[classes], rtol=1e-4,
                               atol=1e-5)


# ---------------------------------------------------------------- the quick profile, end to end
@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    return run_quick_lab("pw11", tmp_path_factory)


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs MNIST in ../shared/data")
def test_results_json_has_the_runners_schema_and_the_issues_exercises(quick_report):
    results = json.loads((quick_report / "report" / "results.json").read_text())
    assert results["lab"] == "pw11" and results["profile"] == "quick"
    assert results["data"] == "MNIST (official files)"
    assert [(r["exercise"], r["seed"]) for r in results["runs"]] == [("p1-cnn-seed0", 0), ("p1-cnn-seed1", 1),
                                                                     ("p3-cam-finetune", 0)]
    need = {"exercise", "variant", "seed", "epochs", "batch_size", "params", "history", "train_accuracy",
            "test_accuracy", "test_loss", "best_epoch", "best_test_accuracy", "wall_s"}
    for r in results["runs"]:
        assert need <= set(r)
        assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
        assert len(r["history"]["test_accuracy"]) == r["epochs"]      # test curves: evaluated every epoch
    assert [r["params"] for r in results["runs"]] == [7465, 7465, 3750]
    finetune = results["runs"][2]
    assert finetune["init_from"] == {"run": "p1-cnn-seed0/seed0", "layers": ["conv1", "conv2", "conv3"]}
    answers = results["answers"]
    assert answers["p1-test-accuracy-seed0"] == pytest.approx(results["runs"][0]["test_accuracy"])
    assert answers["p3-cam-test-accuracy"] == pytest.approx(finetune["test_accuracy"])
    for key in ("p1-l2-represents", "p1-l3-represents", "p2-good-for", "p2-misleads", "p3-uses", "p3-fails",
                "p2-softmax-gradient-ratio-generated", "p3-cam-gradcam-correlation", "p1-seed-agreement-L3"):
        assert answers[key] not in (None, ""), key
    assert answers["p3-cam-equals-relu-gradcam-max-relative-error"] < 1e-4


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs MNIST in ../shared/data")
def test_report_answers_every_part_with_its_figures(quick_report):
    folder = quick_report / "report"
    text = (folder / "README.md").read_text()
    for heading in ("## Part 1", "Activations of every layer for sample digits", "Filter activation statistics "
                    "per class", "### What the statistics show", "**L2 (", "**L3 (", "**Two seeds.**",
                    "## Part 2", "Why the softmax is swapped out", "### Filters of each conv layer",
                    "**Good for.**", "**Where it misleads.**", "## Part 3", "### The GAP network",
                    "### CAM, Grad-CAM and saliency", "**What the maps show.**", "**How it can be used.**",
                    "**Where it fails.**"):
        assert heading in text, heading
    linked = {line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")}
    assert linked == {p.name for p in folder.glob("*.png")}
    expected = {"p1_learning_curves.png", "p1_confusion_seed0.png", "p1_confusion_seed1.png",
                "p1_activations_dense.png", "p2_classes.png", "p2_filters_and_units.png", "p2_two_seeds.png",
                "p3_learning_curves.png", "p3_cam.png", "p3_gradcam.png", "p3_saliency.png",
                "p3_cam_misclassified.png"}
    expected |= {f"p1_activations_{n}.png" for n in CONV}
    expected |= {f"p1_{kind}_{n}_seed{k}.png" for kind in ("mean_maps", "statistics") for n in CONV for k in (0, 1)}
    assert expected <= linked
    assert "nan" not in text.replace("nanmean", "")


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs MNIST in ../shared/data")
def test_the_reports_statistics_are_the_direct_numpy_ones_for_the_trained_network(quick_report):
    """The arrays behind the statistics figures, recomputed from the stored network layer by layer."""
    runs = quick_report / "pw11" / "quick"
    for k in (0, 1):
        stored = np.load(runs / f"p1-statistics-seed{k}.npz")
        model = build("pw11_cnn")
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        checkpoint.load(runs / f"p1-cnn-seed{k}" / f"seed{k}" / "checkpoint.npz", model, {})
        outputs = layer_outputs(model, stored["x"])
        y = stored["y"]
        for name, (relu, conv_name) in CONV.items():
            means, _ = direct_statistics(outputs[relu], y, np.arange(10))
            _, modes = direct_statistics(outputs[conv_name], y, np.arange(10))
            np.testing.assert_allclose(stored[f"{name}/mean_maps"], means, rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(stored[f"{name}/mode_maps"], modes)


@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="needs MNIST in ../shared/data")
def test_the_reports_cam_maps_are_the_relu_of_grad_cam_up_to_scale(quick_report):
    maps = np.load(quick_report / "pw11" / "quick" / "p3-maps.npz")
    cam, grad = maps["cam"], maps["gradcam_gap"]
    assert cam.shape[1:] == (7, 7) and len(cam) == len(maps["x"])
    np.testing.assert_allclose(grad, np.maximum(cam, 0) / 49, rtol=1e-4, atol=1e-6 * np.abs(cam).max())
