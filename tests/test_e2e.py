"""End to end: the course's simple CNN learns scikit-learn's digits; the demo writes its outputs."""
import numpy as np
import pytest

import minicnn as mc
from minicnn.data import load_digits, to_categorical
from minicnn.demo import build_model


@pytest.fixture(scope="module")
def trained():
    (x_train, y_train), (x_test, y_test) = load_digits()
    x_train, x_test = x_train.astype(np.float32) / 255, x_test.astype(np.float32) / 255
    model = build_model(x_train.shape[1:], 10, seed=0)
    model.compile("adam", "categorical_crossentropy", ["accuracy"])
    history = model.fit(x_train, to_categorical(y_train, 10), epochs=15, batch_size=32, seed=0, verbose=0)
    return model, history, (x_test, y_test)


def test_simple_cnn_reaches_95_percent_on_digits(trained):
    model, history, (x_test, y_test) = trained
    score = model.evaluate(x_test, to_categorical(y_test, 10))  # [loss, accuracy], as in Keras
    assert score[1] >= 0.95, score
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    assert np.mean(model.predict(x_test).argmax(1) == y_test) == pytest.approx(score[1])


def test_save_load_same_predictions(trained, tmp_path):
    model, _, (x_test, _) = trained
    model.save(tmp_path / "digits.npz")
    np.testing.assert_array_equal(mc.load_model(tmp_path / "digits.npz").predict(x_test), model.predict(x_test))


def test_demo_cli_writes_model_curves_and_report(tmp_path, capsys):
    from minicnn.cli import main
    assert main(["demo", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "Total params: 5,450" in out
    assert (tmp_path / "model.npz").exists() and (tmp_path / "learning_curves.png").exists()
    report = (tmp_path / "report.md").read_text()
    assert "Test accuracy" in report and "digits" in report
    for line in report.splitlines():
        if line.startswith("!["):
            assert (tmp_path / line.split("(")[-1].rstrip(")")).exists()


def test_cli_data_download_failure_is_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    from minicnn.cli import main
    from minicnn.data import download as download_mod
    # every mirror unreachable: a port on 127.0.0.1 where nothing listens
    monkeypatch.setitem(download_mod.MIRRORS, "mnist", ["http://127.0.0.1:9/"])
    assert main(["data", "download", "mnist", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("minicnn data download:") and "Traceback" not in err
    assert str(tmp_path) in err
