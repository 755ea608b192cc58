"""Lab PW08 end to end on its quick profile (real CIFAR-10 from ../shared/data): the report answers
every exercise, results.json follows the runner's schema, exercise 1's traced values equal an
independent NumPy computation and minicnn's Conv2D, and the parameter counts follow the formula."""
import json

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from labs.architectures import build
from minicnn import viz
from tests.conftest import REPO, SHARED_DATA, run_quick_lab

CONV_DATA = json.loads((REPO / "labs" / "data" / "pw08_convolutions.json").read_text())
EXERCISES = ["ex2-dense-l2", "ex2-dense-no-l2", "ex2-mlp", "ex2-mlp-tuned-512", "ex2-mlp-tuned-512-256",
             "ex2-mlp-tuned-512-256-dropout", "ex2-mlp-tuned-512-256-lr1e-4", "ex3-simple-cnn",
             "ex3-deeper-2conv", "ex3-deeper-3conv", "ex3-deeper-3conv-5x5"]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    return run_quick_lab("pw08", tmp_path_factory)


def results_of(folder):
    return json.loads((folder / "report" / "results.json").read_text())


# ---------------------------------------------------------------- independent NumPy references
def numpy_conv1d(x, w, b, stride, padding):
    """Cross-correlation of a 1-D signal: zero-pad, take every window, dot with the kernel, keep every S-th."""
    windows = sliding_window_view(np.pad(np.asarray(x, float), padding), len(w))
    return windows[::stride] @ np.asarray(w, float) + b


def numpy_conv2d(x, w, b, stride):
    """x: (H, W, C), w: (KH, KW, C, F), no padding -> (OH, OW, F)."""
    windows = sliding_window_view(x, w.shape[:2], axis=(0, 1))      # (OH', OW', C, KH, KW)
    out = np.einsum("ijcuv,uvcf->ijf", windows, w) + b
    return out[::stride, ::stride]


def figure2():
    """Figure 2 from the file the lab reads, stacked by hand (R, G, B last; filters last)."""
    spec = json.loads((REPO / CONV_DATA["ex1b_2d"]["file"]).read_text())
    channels = list(spec["x"])
    x = np.stack([np.array(spec["x"][c], float) for c in channels], axis=-1)
    w = np.stack([np.stack([np.array(f[c], float) for c in channels], axis=-1) for f in spec["w"].values()],
                 axis=-1)
    return x, w, np.array(spec["b"], float)


def test_numpy_references_match_hand_computed_values():
    """The references themselves, on numbers worked out on paper."""
    np.testing.assert_array_equal(numpy_conv1d([1, 2, 3, 4], [1, 0, -1], 0, 1, 0), [-2, -2])
    np.testing.assert_array_equal(numpy_conv1d([1, 2, 3, 4], [1, 0, -1], 1, 2, 1), [1 - 2, 2 - 4 + 1])
    x = np.arange(9.0).reshape(3, 3, 1)
    w = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(2, 2, 1, 1)
    np.testing.assert_array_equal(numpy_conv2d(x, w, 0.5, 1)[..., 0], [[0 - 4 + 0.5, 1 - 5 + 0.5],
                                                                        [3 - 7 + 0.5, 4 - 8 + 0.5]])


# ---------------------------------------------------------------- the quick run
@pytest.mark.realdata
@pytest.mark.skipif(not (SHARED_DATA / "cifar10-jpeg").is_dir(),
                    reason="needs the offline CIFAR-10 copy in ../shared/data")
class TestQuickProfile:
    def test_results_json_has_the_runners_schema_and_every_exercise(self, quick_report):
        results = results_of(quick_report)
        assert results["lab"] == "pw08" and results["profile"] == "quick"
        assert "JPEG-derived" in results["data"]
        assert [r["exercise"] for r in results["runs"]] == EXERCISES
        params = {"ex2-dense-l2": 30730, "ex2-dense-no-l2": 30730, "ex2-mlp": 394634, "ex3-simple-cnn": 82826}
        for r in results["runs"]:
            assert {"variant", "seed", "epochs", "batch_size", "params", "history", "train_accuracy",
                    "test_accuracy", "test_loss", "best_epoch", "best_test_accuracy", "wall_s"} <= set(r)
            assert r["batch_size"] == 128 and r["epochs"] == 2
            assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
            assert len(r["history"]["val_accuracy"]) == r["epochs"]
            assert r["best_epoch"] == int(np.argmax(r["history"]["val_accuracy"])) + 1
            if r["exercise"] in params:
                assert r["params"] == params[r["exercise"]]
        answers = results["answers"]
        # exercise 1 has no training run: its results are answers named after it
        assert {k.split("-")[0] + "-" + k.split("-")[1] for k in answers if k.startswith("ex1")} == {"ex1a-1d",
                                                                                                    "ex1b-2d"}
        assert answers["ex1b-2d-activation-maps"] == 2
        assert answers["ex1b-2d-volume-S1-P0"] == "3×3×2" and answers["ex1b-2d-volume-S2-P0"] == "2×2×2"
        assert answers["ex1a-1d-same-length"] == "S = 1, P = 1"
        by_id = {r["exercise"]: r for r in results["runs"]}
        mlps = [e for e in EXERCISES if e.startswith("ex2-mlp")]
        finals = {e: by_id[e]["history"]["val_accuracy"][-1] for e in mlps}
        best = max(finals, key=finals.get)
        assert answers["ex2-best-mlp-test-accuracy"] == pytest.approx(by_id[best]["test_accuracy"])
        assert answers["ex3-simple-cnn-gain-over-best-mlp"] == pytest.approx(
            by_id["ex3-simple-cnn"]["test_accuracy"] - by_id[best]["test_accuracy"])
        assert answers["ex3-simple-cnn-output-shapes"] == "32×32×32, 32×32×32, 16×16×32, 8192, 10"
        assert answers["ex4-f-formula-equals-summary"] == "yes"
        assert answers["ex4-f-conv-layers-checked"] == 1 + 2 + 3 + 3

    def test_traced_values_equal_numpy_and_conv2d(self, quick_report):
        saved = np.load(quick_report / "pw08" / "quick" / "ex1-outputs.npz")
        answers = results_of(quick_report)["answers"]
        one_d = CONV_DATA["ex1a_1d"]
        for s, p in ((1, 0), (2, 0), (4, 0), (1, 1), (4, 1)):
            expected = numpy_conv1d(one_d["x"], one_d["w"], one_d["b"], s, p)
            np.testing.assert_array_equal(saved[f"1d_S{s}_P{p}_trace"], expected)
            np.testing.assert_array_equal(saved[f"1d_S{s}_P{p}_conv2d"], expected)
            assert [float(v) for v in answers[f"ex1a-1d-S{s}-P{p}-output"].split()] == list(expected)
        x, w, b = figure2()
        for s in (1, 2):
            expected = numpy_conv2d(x, w, b, s)
            np.testing.assert_array_equal(saved[f"2d_S{s}_trace"], expected)
            np.testing.assert_array_equal(saved[f"2d_S{s}_conv2d"], expected)
        out = numpy_conv2d(x, w, b, 1)
        for f in range(out.shape[-1]):
            rows = [[float(v) for v in row.split()] for row in answers[f"ex1b-2d-values-S1-P0-filter{f}"].split(";")]
            np.testing.assert_array_equal(rows, out[:, :, f])
        assert answers["ex1b-2d-conv2d-max-abs-difference"] == 0

    def test_report_answers_every_item_with_its_figures(self, quick_report):
        folder = quick_report / "report"
        text = (folder / "README.md").read_text()
        for heading in ("### a) The 1-D example", "**Which (S, P) keep the input's length", "**Rule for any N and F:**",
                        "### b) The 2-D example", "How many activation maps?", "Output volume with S = 1, P = 0",
                        "Output volume with S = 2, P = 0", "preserve the spatial size", "Output values with S = 1",
                        "**Validation.**", "### One-layer network", "What the L2 regularizer prevents",
                        "### Two-layer network (MLP) and tuning", "**Best MLP**", "### Simple CNN",
                        "Gain over the best MLP", "### Deeper CNNs (Table 1)", "The best deeper CNN",
                        "gives no epoch count", "## Exercise 4", "**a)", "**b)", "**c)", "**d)", "**e)", "**f)",
                        "**g)"):
            assert heading in text, heading
        assert "stand-in" in text.lower() and "B planes" in text      # the report says what is not the figure's
        assert text.count("<details>") == 5 + 2                       # every traced case, full trace folded
        linked = {line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")}
        assert linked == {p.name for p in folder.glob("*.png")}
        assert {"samples.png", "dense_weights_l2.png", "dense_weights_no_l2.png", "mlp_curves.png",
                "cnn_curves.png"} <= linked
        # Table 1's Architecture column comes from the layers, in the document's format
        assert ("| 1 | simple CNN | Layer 1 : CONV D=32, w=h=3, S=1, P='same', ReLU ; Layer 2 : MAXPOOL w=h=2, "
                "S=2 ; Layer 3 : DENSE 10, softmax |") in text
        assert "Layer 3 : CONV D=64, w=h=5, S=1, P='same', ReLU" in text           # 3conv-5x5's second conv


def test_conv_parameter_formula_matches_count_params():
    """(KH·KW·C_in + 1)·F for every convolution the lab trains, by hand from the shapes the document names."""
    expected = {"pw08_cnn": [(3, 3, 3, 32)], "pw08_cnn_2conv": [(3, 3, 3, 32), (3, 3, 32, 64)],
                "pw08_cnn_3conv": [(3, 3, 3, 32), (3, 3, 32, 64), (3, 3, 64, 128)],
                "pw08_cnn_3conv_5x5": [(3, 3, 3, 32), (5, 5, 32, 64), (5, 5, 64, 128)]}
    for name, shapes in expected.items():
        convs = [l for l in build(name).layers if type(l).__name__ == "Conv2D"]
        assert [l.params["kernel"].value.shape for l in convs] == shapes
        assert [l.count_params() for l in convs] == [(kh * kw * c + 1) * f for kh, kw, c, f in shapes]
    assert build("pw08_cnn").get_layer("conv1").count_params() == 896        # the document's first layer


def test_weight_templates_are_normalised_per_channel():
    """The document: 'normalization of the weight values to 0-256 ... on a per-channel basis (RGB)'."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(32 * 32 * 3, 10)) * np.tile([1.0, 10.0, 0.1], 32 * 32)[:, None]  # R, G, B scales
    fig = viz.dense_weight_images(kernel, (32, 32, 3))
    shown = np.asarray(fig.axes[0].images[0].get_array())
    img = kernel[:, 0].reshape(32, 32, 3)
    lo, hi = img.min(axis=(0, 1)), img.max(axis=(0, 1))
    np.testing.assert_array_equal(shown, np.round(255 * (img - lo) / (hi - lo)).astype(np.uint8))
    assert all(shown[..., c].min() == 0 and shown[..., c].max() == 255 for c in range(3))
