"""The committed lab reports (labs/reports/<lab>/) against the contract other tools read:
results.json in the runner's schema, numbers consistent with the runs they summarise, and a
README whose figures all exist."""
import json
from pathlib import Path

import numpy as np
import pytest

from labs.catalog import LABS

REPORTS = Path(__file__).resolve().parent.parent / "labs" / "reports"
RUN_KEYS = {"exercise", "variant", "seed", "epochs", "batch_size", "params", "history", "train_accuracy",
            "test_accuracy", "test_loss", "best_epoch", "best_test_accuracy", "wall_s"}
COMMITTED = sorted(p.name for p in REPORTS.iterdir() if (p / "results.json").is_file()) if REPORTS.is_dir() else []


def test_every_lab_has_a_committed_report():
    assert COMMITTED == sorted(LABS)


@pytest.mark.parametrize("lab", COMMITTED)
def test_results_json_follows_the_runners_schema(lab):
    results = json.loads((REPORTS / lab / "results.json").read_text())
    assert {"lab", "profile", "data", "runs", "answers"} <= set(results)
    assert results["lab"] == lab and results["profile"] == "report"
    assert results["runs"], "a report without runs"
    for run in results["runs"]:
        missing = RUN_KEYS - set(run)
        assert not missing, f"{run.get('exercise')}: missing {sorted(missing)}"
        history = run["history"]
        assert len(history["loss"]) == run["epochs"]
        for key in ("train_accuracy", "test_accuracy"):
            assert 0.0 <= run[key] <= 1.0, (run["exercise"], key, run[key])   # fractions, not per cent
        assert 1 <= run["best_epoch"] <= run["epochs"]
        if "test_accuracy" in history:  # the run was tested each epoch: best_* is read off its history
            assert run["best_test_accuracy"] == history["test_accuracy"][run["best_epoch"] - 1]
        else:                           # not measured: null, not a made-up number
            assert run["best_test_accuracy"] is None
        if "val_accuracy" in history:   # the best epoch is the one of highest validation accuracy
            assert history["val_accuracy"][run["best_epoch"] - 1] == max(history["val_accuracy"])


@pytest.mark.parametrize("lab", COMMITTED)
def test_readme_links_exactly_the_reports_figures(lab):
    text = (REPORTS / lab / "README.md").read_text()
    linked = {line.split("](")[1].split(")")[0] for line in text.splitlines() if line.startswith("![")}
    assert linked == {p.name for p in (REPORTS / lab).glob("*.png")}
    assert "profile" in text and "report" in text


def test_tiny_vgg_answers_are_the_means_of_its_runs():
    results = json.loads((REPORTS / "tiny_vgg" / "results.json").read_text())
    runs = results["runs"]

    def mean(exercise, key="test_accuracy"):
        return np.mean([r[key] for r in runs if r["exercise"] == exercise])

    original = [r["test_accuracy"] for r in runs if r["exercise"] == "q6-original"]
    assert len(original) >= 3
    assert results["answers"]["q9-test-accuracy-mean"] == pytest.approx(np.mean(original))
    assert results["answers"]["q9-test-accuracy-std"] == pytest.approx(np.std(original, ddof=1))
    for exercise in ("q13-batchnorm", "q14-third-block", "q15-tiny-resnet"):
        assert results["answers"][f"{exercise}-minus-original-points"] == pytest.approx(
            100 * (mean(exercise) - mean("q6-original")))
        assert results["answers"][f"{exercise}-minus-original-points-early-stopping"] == pytest.approx(
            100 * (mean(exercise, "best_test_accuracy") - mean("q6-original", "best_test_accuracy")))
