"""Lab PW09 end to end on its quick profile (real CIFAR-10 from ../shared/data): the report answers
every exercise, results.json follows the runner's schema, and the activation maps shown are the
layers' outputs."""
import json

import numpy as np
import pytest

from labs.architectures import build
from minicnn.cli import main
from tests.conftest import SHARED_DATA, run_quick_lab

pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not (SHARED_DATA / "cifar10-jpeg").is_dir(),
                                 reason="needs the offline CIFAR-10 copy in ../shared/data")]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    return run_quick_lab("pw09", tmp_path_factory)


def test_results_json_has_the_runners_schema_and_every_exercise(quick_report):
    results = json.loads((quick_report / "report" / "results.json").read_text())
    assert results["lab"] == "pw09" and results["profile"] == "quick"
    assert "JPEG-derived" in results["data"]
    exercises = [r["exercise"] for r in results["runs"]]
    assert exercises == ["ex1a-baseline", "ex1b-flip", "ex1b-flip-shift", "ex1b-flip-shift-rotate-zoom",
                         "ex1-long-baseline", "ex1-long-best"]
    for r in results["runs"]:
        assert r["params"] == 39882 and r["batch_size"] == 128
        assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
        assert len(r["history"]["val_accuracy"]) == r["epochs"]
        assert r["best_epoch"] == int(np.argmax(r["history"]["val_accuracy"])) + 1
    answers = results["answers"]
    assert answers["ex1-c-best-strategy"] in ("flip", "flip-shift", "flip-shift-rotate-zoom")
    assert answers["ex1-a-augmentation-improves-test-accuracy"] in ("yes", "no")
    baseline = next(r for r in results["runs"] if r["exercise"] == "ex1a-baseline")
    assert answers["ex1-a-test-accuracy-no-augmentation"] == pytest.approx(baseline["test_accuracy"])


def test_report_answers_every_question_with_its_figures(quick_report):
    folder = quick_report / "report"
    text = (folder / "README.md").read_text()
    for heading in ("question a)", "question b)", "question c)", "### b) All the filters",
                    "### c) Activation maps", "Two strategies to visualise", "What augmentation fights",
                    "Implementation strategies", "Longer training"):
        assert heading in text, heading
    linked = {line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")}
    assert linked == {p.name for p in folder.glob("*.png")}
    for name in ("samples.png", "loss_curves.png", "filters_conv1_rgb.png", "filters_conv1_per_channel.png",
                 "filters_conv2_per_channel.png", "augmentation_flip.png", "activations_conv1.png",
                 "activations_relu1.png", "activations_pool2.png"):
        assert (folder / name).is_file(), name


def test_activation_maps_shown_are_the_layers_outputs(quick_report):
    """Recompute X_train[12]'s maps layer by layer with the layers' own forward and compare."""
    results = json.loads((quick_report / "report" / "results.json").read_text())
    stored = np.load(quick_report / "pw09" / "quick" / "ex2-activation-maps.npz")
    best = results["answers"]["ex2-network"]
    folder = quick_report / "pw09" / "quick" / best / "seed0"
    model = build("pw09_cnn")
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    from labs._runner import checkpoint
    checkpoint.load(folder / "checkpoint.npz", model, {})
    a = stored["image"][None].astype(np.float32)
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        a = layer.forward(a)
        if layer.name in stored.files:
            np.testing.assert_allclose(stored[layer.name], a, rtol=1e-6, atol=1e-6)
    assert {"conv1", "relu1", "conv2", "relu2", "pool1", "conv3", "relu3", "pool2"} <= set(stored.files)


def test_rebuilding_the_report_needs_no_training(quick_report, capsys):
    assert main(["lab", "report", "pw09", "--profile", "quick", "--out", str(quick_report), "--report-dir",
                 str(quick_report / "rebuilt"), "--no-progress"]) == 0
    first = json.loads((quick_report / "report" / "results.json").read_text())
    again = json.loads((quick_report / "rebuilt" / "results.json").read_text())
    assert first["runs"] == again["runs"]                     # same stored runs, nothing retrained
    assert "[pw09] ex1a" not in capsys.readouterr().out       # no per-run training line
