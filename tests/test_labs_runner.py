"""The lab runner: resumable runs (bit-identical after kill -9), refused mixed configurations,
parallel jobs equal to sequential ones, augmentation kept off validation/test data, statistics,
and the command line's errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import numpy as np
import pytest

import minicnn as mc
from labs import architectures, catalog
from labs._runner import checkpoint, fmt_mean_std, mean_std
from labs._runner.data import LabData
from labs._runner.lab import Lab
from labs._runner.stats import curve_band
from labs._runner.training import RunSpec, TrainingRun
from tests.conftest import REPO

TINY = textwrap.dedent('''
    import minicnn as mc
    from labs import architectures

    def tiny_cnn(input_shape=None, reduced=False, seed=0):
        """Conv - ReLU - MaxPool - Dropout - Flatten - Dense softmax on 8x8x3 images."""
        return mc.Sequential([mc.Input(input_shape or (8, 8, 3)), mc.Conv2D(4, 3, padding="same", name="c"),
                              mc.ReLU(name="r"), mc.MaxPool2D(2, name="p"), mc.Dropout(0.3, name="d"),
                              mc.Flatten(name="f"), mc.Dense(3, activation="softmax", name="o")], seed=seed)

    architectures.ARCHITECTURES["tiny_cnn"] = tiny_cnn
''')
exec(TINY)
TINY_NAME = "tests.test_labs_runner:tiny_cnn"  # importable by spawned worker processes


def tiny_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 3), dtype=np.float32)
    y = rng.integers(0, 3, n)
    return LabData("tiny", x, y, x[:24].copy(), y[:24].copy(), ("a", "b", "c"), "random", f"tiny:{n}")


def tiny_spec(**kw):
    base = dict(lab="test", profile="quick", exercise="ex", variant="", seed=0, architecture="tiny_cnn",
                data="tiny:96", epochs=4, batch_size=16, validation_split=0.25,
                augment={"horizontal_flip": True, "width_shift_range": 0.1})
    base.update(kw)
    return RunSpec(**base)


def final_weights(folder):
    with np.load(folder / "checkpoint.npz") as z:
        return {k: z[k] for k in z.files if k.startswith("weights/")}


def test_a_run_writes_the_result_schema_and_is_skipped_when_finished(tmp_path):
    run = TrainingRun(tiny_spec(), tmp_path / "run")
    result = run.run(tiny_data(), progress=False)
    need = {"exercise", "variant", "seed", "epochs", "batch_size", "params", "history", "train_accuracy",
            "test_accuracy", "test_loss", "best_epoch", "best_test_accuracy", "wall_s"}
    assert need <= set(result)
    assert set(result["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in result["history"].values())
    assert 0 <= result["test_accuracy"] <= 1 and result["params"] == (27 * 4 + 4) + (4 * 4 * 4 * 3 + 3)
    assert result["best_epoch"] == int(np.argmax(result["history"]["val_accuracy"])) + 1
    # train_accuracy is evaluate() on the training split (72 images), not the epoch's running mean
    model = run.model(tiny_data())
    x, y = tiny_data().x_train[:72], tiny_data().y_train[:72]
    assert result["train_accuracy"] == pytest.approx(np.mean(model.predict(x).argmax(1) == y))
    mtime = run.result_path.stat().st_mtime_ns
    assert run.run(tiny_data(), progress=False) == result          # finished: read, not retrained
    assert run.result_path.stat().st_mtime_ns == mtime


def test_resume_after_each_epoch_is_bit_identical(tmp_path):
    """Stop after every epoch (a fresh TrainingRun each time) == one uninterrupted run: weights,
    optimizer moments, shuffling, augmentation and dropout streams all come back."""
    data = tiny_data()
    straight = TrainingRun(tiny_spec(), tmp_path / "straight")
    straight.run(data, progress=False)
    folder = tmp_path / "pieces"
    for stop_after in (1, 2, 3):
        TrainingRun(replace(tiny_spec(), epochs=4), folder).check_config()
        piece = TrainingRun(tiny_spec(), folder)

        class Stop(Exception):
            pass

        def stop(epoch, stop_after=stop_after):
            if epoch == stop_after:
                raise Stop

        with pytest.raises(Stop):
            piece.run(data, progress=False, on_epoch=stop)
    resumed = TrainingRun(tiny_spec(), folder).run(data, progress=False)
    a, b = final_weights(tmp_path / "straight"), final_weights(folder)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert resumed["history"] == straight.result()["history"]


def test_run_killed_mid_epoch_resumes_bit_identically(tmp_path):
    """kill -9 a child process in the middle of training; resuming gives the uninterrupted weights."""
    n = 3000
    child = TINY + textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from tests.test_labs_runner import tiny_data, tiny_spec
        from labs._runner.training import TrainingRun
        TrainingRun(tiny_spec(epochs=12, data="tiny:{n}"), sys.argv[1]).run(tiny_data({n}), progress=False)
    ''')
    folder = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", child, str(folder)], cwd=REPO)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            ckpt = folder / "checkpoint.npz"
            if ckpt.is_file():
                with np.load(ckpt) as z:
                    if json.loads(str(z["__meta__"]))["epoch"] >= 2:
                        break
            if proc.poll() is not None:
                pytest.fail("the child finished before it could be killed")
            time.sleep(0.02)
        time.sleep(0.05)  # into the next epoch
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert not (folder / "result.json").exists()
    spec = tiny_spec(epochs=12, data=f"tiny:{n}")
    TrainingRun(spec, folder).run(tiny_data(n), progress=False)
    TrainingRun(spec, tmp_path / "straight").run(tiny_data(n), progress=False)
    a, b = final_weights(tmp_path / "straight"), final_weights(folder)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # no half-written file left


def test_another_configuration_in_the_same_folder_is_refused(tmp_path):
    TrainingRun(tiny_spec(epochs=1), tmp_path / "r").run(tiny_data(), progress=False)
    with pytest.raises(RuntimeError, match=r"batch_size: stored 16, requested 32.*--restart"):
        TrainingRun(tiny_spec(epochs=1, batch_size=32), tmp_path / "r").run(tiny_data(), progress=False)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    TrainingRun(tiny_spec(epochs=1), tmp_path / "r").run(tiny_data(), progress=False)
    other = mc.Sequential([mc.Input((8, 8, 3)), mc.Flatten(), mc.Dense(3, activation="softmax")], seed=0)
    other.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="does not belong to this architecture"):
        checkpoint.load(tmp_path / "r" / "checkpoint.npz", other, {})


def test_augmentation_never_sees_validation_or_test_images(tmp_path, monkeypatch):
    """Validation and test images are marked (constant 0.777); every batch the augmenter receives
    must be training images, and it must receive exactly the training batches."""
    data = tiny_data()
    data.x_train[72:] = 0.777   # the last 25 %: the validation split
    data.x_test[:] = 0.777
    seen = []
    original = mc.data.ImageAugmenter.__call__

    def spy(self, x):
        seen.append(np.array(x))
        return original(self, x)

    monkeypatch.setattr(mc.data.ImageAugmenter, "__call__", spy)
    TrainingRun(tiny_spec(epochs=2), tmp_path / "r").run(data, progress=False)
    assert len(seen) == 2 * (72 // 16 + 1)
    assert sum(len(b) for b in seen) == 2 * 72
    assert not any(np.any(np.all(b.reshape(len(b), -1) == np.float32(0.777), axis=1)) for b in seen)


def tiny_gap(input_shape=None, reduced=False, seed=0):
    """tiny_cnn's conv layer "c" (same name and shape), then global average pooling and a Dense softmax."""
    return mc.Sequential([mc.Input(input_shape or (8, 8, 3)), mc.Conv2D(4, 3, padding="same", name="c"),
                          mc.ReLU(name="r"), mc.GlobalAvgPool2D(name="g"),
                          mc.Dense(3, activation="softmax", name="o")], seed=seed)


def test_a_run_can_start_from_another_runs_weights_and_resumes_bit_identically(tmp_path):
    """init_from copies the named layers of a finished run into a fresh network of another
    architecture before the first epoch; the rest keeps its own seeded initialisation; a run
    stopped after an epoch resumes from its own checkpoint to the same weights."""
    data = tiny_data()
    source = TrainingRun(tiny_spec(exercise="src", epochs=2), tmp_path / "src" / "seed0")
    spec = tiny_spec(exercise="ft", architecture="tests.test_labs_runner:tiny_gap", epochs=3, augment=None,
                     seed=1, init_from={"run": "src/seed0", "layers": ["c"]})
    with pytest.raises(RuntimeError, match="starts from run 'src/seed0', which is not finished.*train that run"):
        TrainingRun(spec, tmp_path / "ft" / "seed1").run(data, progress=False)
    source.run(data, progress=False)
    trained = source.model(data)
    start = TrainingRun(spec, tmp_path / "ft" / "seed1").initial_model(data)
    fresh = tiny_gap(seed=1)
    for k in ("kernel", "bias"):
        np.testing.assert_array_equal(start.get_layer("c").params[k].value, trained.get_layer("c").params[k].value)
        np.testing.assert_array_equal(start.get_layer("o").params[k].value, fresh.get_layer("o").params[k].value)
    assert not np.array_equal(fresh.get_layer("c").params["kernel"].value,
                              trained.get_layer("c").params["kernel"].value)

    straight = TrainingRun(spec, tmp_path / "ft" / "seed1").run(data, progress=False)
    assert straight["init_from"] == {"run": "src/seed0", "layers": ["c"]}
    folder = tmp_path / "again" / "ft" / "seed1"
    shutil.copytree(tmp_path / "src", tmp_path / "again" / "src")   # the same source run, in another lab folder

    class Stop(Exception):
        pass

    def stop(epoch):
        if epoch == 1:
            raise Stop
    with pytest.raises(Stop):
        TrainingRun(spec, folder).run(data, progress=False, on_epoch=stop)
    TrainingRun(spec, folder).run(data, progress=False)
    a, b = final_weights(tmp_path / "ft" / "seed1"), final_weights(folder)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_init_from_names_missing_layers_and_mismatched_shapes():
    from labs._runner.training import copy_weights
    source = tiny_gap(seed=0)
    other = mc.Sequential([mc.Input((8, 8, 3)), mc.Conv2D(5, 3, padding="same", name="c"), mc.GlobalAvgPool2D(),
                           mc.Dense(3, name="o")], seed=0)
    with pytest.raises(ValueError, match=r"no layer 'fc' with parameters in the source"):
        copy_weights(source, other, ["fc"])
    with pytest.raises(ValueError, match=r"layer 'c' has parameters .*\(3, 3, 3, 4\).* but .*\(3, 3, 3, 5\)"):
        copy_weights(source, other, ["c"])
    assert copy_weights(source, tiny_gap(seed=3)) == ["c", "o"]  # None: every shared layer


def test_run_folders_written_before_a_field_existed_stay_valid(tmp_path):
    """config.json without init_from (added later) is the default, not another configuration."""
    run = TrainingRun(tiny_spec(epochs=1), tmp_path / "r")
    run.folder.mkdir()
    old = run.spec.to_json()
    del old["init_from"]
    (run.folder / "config.json").write_text(json.dumps(old))
    run.check_config()
    old["epochs"] = 5
    (run.folder / "config.json").write_text(json.dumps(old))
    with pytest.raises(RuntimeError, match="epochs: stored 5, requested 1"):
        run.check_config()


def test_mean_std_uses_the_sample_standard_deviation():
    m, s = mean_std([0.5, 0.6, 0.7])
    assert m == pytest.approx(0.6) and s == pytest.approx(0.1)          # ddof = 1
    assert mean_std([0.42]) == (0.42, None)
    assert fmt_mean_std([0.5, 0.6, 0.7]) == "60.0 ± 10.0 %"
    mean, std = curve_band([{"loss": [1.0, 2.0]}, {"loss": [3.0, 4.0, 9.0]}], "loss")
    np.testing.assert_allclose(mean, [2.0, 3.0])
    np.testing.assert_allclose(std, [np.sqrt(2), np.sqrt(2)])


@pytest.fixture
def tiny_lab(monkeypatch):
    """A lab 'tiny' in the catalog: one exercise, two seeds."""
    spec = catalog.LabSpec(
        name="tiny", module="labs.nonexistent", document="none", title="tiny",
        settings={p: dict(n_train=96, n_test=24, seeds=2) for p in catalog.PROFILES},
        plan=lambda s: [catalog.PlannedRun("ex", TINY_NAME, 3, 72, s["seeds"])])
    monkeypatch.setitem(catalog.LABS, "tiny", spec)
    return spec


def test_parallel_rounds_give_the_last_runs_the_whole_machine():
    from labs._runner.parallel import rounds
    assert rounds(3, 2, 2) == [(2, 2, 1), (1, 1, 2)]   # 3 seeds, --jobs 2: the third seed gets both cores
    assert rounds(4, 2, 2) == [(4, 2, 1)]
    assert rounds(1, 2, 2) == [(1, 1, 2)]
    assert rounds(7, 3, 8) == [(6, 3, 2), (1, 1, 8)]
    assert rounds(5, 4, 2) == [(4, 4, 1), (1, 1, 2)]   # more jobs than cores: one thread each, at least


def test_jobs_two_equals_jobs_one(tmp_path, tiny_lab):
    results = {}
    for jobs in (1, 2):  # 3 seeds: with 2 jobs, a round of two workers, then the third seed alone
        lab = Lab("tiny", out=tmp_path / f"jobs{jobs}", report_dir=tmp_path / f"rep{jobs}", jobs=jobs,
                  seeds=3, progress=False)
        group = lab.train("ex", TINY_NAME, tiny_data(), epochs=3, batch_size=16, validation_split=0.25)
        results[jobs] = group
    for s in (0, 1, 2):
        a = final_weights(tmp_path / "jobs1" / "tiny" / "quick" / "ex" / f"seed{s}")
        b = final_weights(tmp_path / "jobs2" / "tiny" / "quick" / "ex" / f"seed{s}")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert [r["history"] for r in results[1].results] == [r["history"] for r in results[2].results]
    assert results[1].results[0]["history"] != results[1].results[1]["history"]  # seeds differ


def test_lab_checks_its_plan_and_writes_the_report_atomically(tmp_path, tiny_lab):
    lab = Lab("tiny", out=tmp_path / "o", report_dir=tmp_path / "rep", progress=False)
    with pytest.raises(ValueError, match="not in the lab's plan"):
        lab.train("nope", TINY_NAME, tiny_data(), epochs=3, batch_size=16)
    with pytest.raises(ValueError, match="the plan says tests.test_labs_runner:tiny_cnn for 3"):
        lab.train("ex", TINY_NAME, tiny_data(), epochs=5, batch_size=16)
    lab.train("ex", TINY_NAME, tiny_data(), epochs=3, batch_size=16, validation_split=0.25)
    lab.answer("q", np.float32(0.5))
    assert not (tmp_path / "rep").exists()          # nothing visible before finish()
    lab.finish()
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert results["lab"] == "tiny" and results["profile"] == "quick" and len(results["runs"]) == 2
    assert results["answers"] == {"q": 0.5}
    text = (tmp_path / "rep" / "README.md").read_text()
    for item in ("profile", "data", "machine", "date", "minicnn commit", "wall time"):
        assert f"| {item} |" in text


def test_report_only_and_unselected_exercises_do_not_train(tmp_path, tiny_lab):
    from labs._runner import LabStopped
    lab = Lab("tiny", out=tmp_path / "o", report_dir=tmp_path / "rep", report_only=True, progress=False)
    with pytest.raises(LabStopped, match="only reads stored runs"):
        lab.train("ex", TINY_NAME, tiny_data(), epochs=3, batch_size=16)
    with pytest.raises(ValueError, match=r"unknown exercise\(s\) \['zz'\]; exercises: ex"):
        Lab("tiny", out=tmp_path / "o", exercises=["zz"], progress=False)


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "minicnn.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **(env or {})})


def test_cli_names_valid_labs_and_profiles():
    bad_lab = run_cli("lab", "run", "pw99")
    assert bad_lab.returncode == 2 and f"unknown lab 'pw99'; labs: {', '.join(sorted(catalog.LABS))}" in bad_lab.stderr
    bad_profile = run_cli("lab", "run", "pw09", "--profile", "fast")
    assert bad_profile.returncode == 2 and "profiles: quick, report, full" in bad_profile.stderr
    assert "Traceback" not in bad_lab.stderr + bad_profile.stderr


def test_cli_without_data_and_network_says_so_without_traceback(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    # an empty data root and MINICNN_OFFLINE=1 (never touch the network from a test)
    proc = run_cli("lab", "run", "pw09", "--data-root", str(empty), "--out", str(tmp_path / "o"),
                   env={"MINICNN_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "minicnn lab pw09:" in proc.stderr and "cifar10" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_unwritable_output_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run_cli("lab", "run", "pw09", "--out", str(blocker / "sub"))
    assert proc.returncode == 2
    assert "cannot write to" in proc.stderr and "--out" in proc.stderr and "Traceback" not in proc.stderr


def test_every_lab_architecture_passes_the_reduced_copy_gradient_check():
    from minicnn.explain import check_model_gradients
    for name, build in architectures.ARCHITECTURES.items():
        if name == "tiny_cnn":
            continue
        rows = check_model_gradients(build(reduced=True, seed=0), batch_size=2, seed=0)
        failed = [(r.layer, r.parameter, r.failure) for r in rows if not r.ok]
        assert not failed, f"{name}: {failed}"
        assert len(rows) >= 2


def test_pw09_network_has_the_documents_layers_and_keras_parameter_count():
    model = architectures.build("pw09_cnn")
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds == ["Conv2D", "ReLU", "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D",
                     "Flatten", "Dense"]
    assert model.count_params() == (27 * 32 + 32) + 2 * (288 * 32 + 32) + (2048 * 10 + 10) == 39882


# ------------------------------------------------ the PyTorch-style loop, freezing, best weights
FLIP_CROP = [{"class_name": "RandomHorizontalFlip", "p": 0.5},
             {"class_name": "RandomCrop", "size": [8, 8], "padding": [1, 1], "fill": 0}]


def loader_spec(**kw):
    return tiny_spec(**{"loop": "loader", "transforms": FLIP_CROP, "augment": None, **kw})


def test_loader_loop_resumes_bit_identically_with_its_transforms(tmp_path):
    """loop="loader": DataLoader order, each transform's draws and dropout come back from the checkpoint."""
    data = tiny_data()
    straight = TrainingRun(loader_spec(), tmp_path / "straight").run(data, progress=False)
    folder = tmp_path / "pieces"

    class Stop(Exception):
        pass

    for stop_after in (1, 2, 3):
        def stop(epoch, stop_after=stop_after):
            if epoch == stop_after:
                raise Stop
        with pytest.raises(Stop):
            TrainingRun(loader_spec(), folder).run(data, progress=False, on_epoch=stop)
    with np.load(folder / "checkpoint.npz") as z:
        rngs = json.loads(str(z["__meta__"]))["rng"]
    assert {"loader", "transform/0", "transform/1"} <= set(rngs)
    resumed = TrainingRun(loader_spec(), folder).run(data, progress=False)
    a, b = final_weights(tmp_path / "straight"), final_weights(folder)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert resumed["history"] == straight["history"]
    assert set(straight["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    plain = TrainingRun(loader_spec(transforms=None), tmp_path / "plain").run(data, progress=False)
    assert plain["history"]["loss"] != straight["history"]["loss"]   # the transforms did change the images


def test_loader_epoch_is_train_on_batch_over_the_loader():
    """train_one_epoch == a hand-written loop of train_on_batch over the same loader; its accuracy is
    the batches' accuracy before each step's update (the scores the hook caught)."""
    from labs._runner import loader_loop
    from minicnn.data import to_categorical
    data = tiny_data()
    y = to_categorical(data.y_train, 3)
    models = []
    for _ in range(2):
        m = architectures.build("tiny_cnn", seed=0)
        m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        models.append(m)
    loader = lambda: loader_loop.build_loader(data.x_train, y, 16, FLIP_CROP, shuffle_seed=1, transform_seed=2)
    logs = loader_loop.train_one_epoch(models[0], loader())
    losses = [models[1].train_on_batch(xb, yb) for xb, yb in loader()]
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    sizes = [16] * 6
    assert logs["loss"] == pytest.approx(np.average(losses, weights=sizes))
    assert 0 <= logs["accuracy"] <= 1


def test_transform_configs_rebuild_the_same_pipeline():
    from labs._runner import loader_loop
    from minicnn.data import transforms as T
    objects = [T.RandomHorizontalFlip(p=0.3), T.RandomCrop(8, padding=2, fill=0.5), T.RandomRotation(10),
               T.ColorJitter(brightness=0.2), T.RandomErasing(p=0.7, scale=(0.1, 0.2))]
    configs = loader_loop.transforms_config(objects)
    assert configs[1] == {"class_name": "RandomCrop", "size": [8, 8], "padding": [2, 2], "fill": 0.5}
    assert json.loads(json.dumps(configs)) == configs
    x = np.random.default_rng(0).random((5, 8, 8, 3), dtype=np.float32)
    original = T.Compose(objects)
    original.reseed(7)
    np.testing.assert_array_equal(loader_loop.build_transform(configs, 7)(x), original(x))
    with pytest.raises(ValueError, match="unknown transform 'Blur'"):
        loader_loop.build_transform([{"class_name": "Blur"}], 0)


def test_frozen_layers_keep_their_weights_and_best_weights_start_another_run(tmp_path):
    """A source run keeps its best epoch (by test accuracy) in best.npz; a run started from it with only
    the last layer trainable ends with every other weight bit-identical to that epoch's."""
    data = tiny_data()
    source_spec = loader_spec(exercise="src", epochs=4, validation_split=0.0, test_each_epoch=True,
                              monitor="test_accuracy")
    source = TrainingRun(source_spec, tmp_path / "src" / "seed0")
    result = source.run(data, progress=False)
    assert result["best_epoch"] == int(np.argmax(result["history"]["test_accuracy"])) + 1
    assert result["best_test_accuracy"] == max(result["history"]["test_accuracy"])
    with np.load(source.best_path) as z:
        assert json.loads(str(z["__meta__"]))["epoch"] == result["best_epoch"]
    best = source.best_model(data)

    tuned_spec = loader_spec(exercise="tuned", epochs=3, init_from={"run": "src/seed0", "layers": None,
                                                                    "weights": "best"}, trainable=["o"])
    tuned_run = TrainingRun(tuned_spec, tmp_path / "tuned" / "seed0")
    start = tuned_run.initial_model(data)
    for a, b in zip(start.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(a, b)
    tuned = tuned_run.run(data, progress=False)
    assert tuned["trainable_params"] == 4 * 4 * 4 * 3 + 3
    after = tuned_run.model(data)
    np.testing.assert_array_equal(after.get_layer("c").params["kernel"].value, best.get_layer("c").params["kernel"].value)
    np.testing.assert_array_equal(after.get_layer("c").params["bias"].value, best.get_layer("c").params["bias"].value)
    assert not np.array_equal(after.get_layer("o").params["kernel"].value, best.get_layer("o").params["kernel"].value)


def test_incompatible_run_settings_are_refused_before_training(tmp_path):
    data = tiny_data()
    with pytest.raises(ValueError, match="transforms are applied by the Dataset of loop='loader'"):
        TrainingRun(tiny_spec(transforms=FLIP_CROP), tmp_path / "a").run(data, progress=False)
    with pytest.raises(ValueError, match="monitor='test_accuracy' needs test_each_epoch=True"):
        TrainingRun(tiny_spec(monitor="test_accuracy"), tmp_path / "b").run(data, progress=False)
    with pytest.raises(ValueError, match=r"trainable names layer\(s\) \['fc9'\]"):
        TrainingRun(tiny_spec(trainable=["fc9"]), tmp_path / "c").run(data, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_lab_list_estimates_each_profile_from_the_plan_and_the_measured_speed(monkeypatch, capsys):
    """With a measured 1 ms per training image, PW09's report profile (4 runs x 10 epochs and 2 runs x
    30 epochs, 45,000 images each) is estimated at 4,500 s + 10 % for validation and evaluation = 1 h 22 min."""
    from labs._runner import cli, estimate
    monkeypatch.setattr(estimate, "seconds_per_image", lambda architecture: 0.001)
    assert cli.run_command(type("Args", (), {"lab_command": "list"})()) == 0
    out = capsys.readouterr().out
    pw09 = out[out.index("pw09:"):]
    assert "exercises: ex1a-baseline, ex1b-flip, ex1b-flip-shift, ex1b-flip-shift-rotate-zoom" in pw09
    report_line = next(line for line in pw09.splitlines() if line.strip().startswith("report"))
    assert "about 1 h 22 min" in report_line
    for spec in catalog.LABS.values():
        assert f"{spec.name}:" in out


def test_lab_list_counts_the_runs_already_stored(tmp_path, tiny_lab, monkeypatch, capsys):
    from labs._runner import cli, estimate
    out = tmp_path / "o"
    assert cli.stored_runs(tiny_lab, "quick", out) == (0, 2)
    lab = Lab("tiny", out=out, report_dir=tmp_path / "rep", progress=False)
    lab.train("ex", TINY_NAME, tiny_data(), epochs=3, batch_size=16, validation_split=0.25)
    assert cli.stored_runs(tiny_lab, "quick", out) == (2, 2)
    (out / "tiny" / "quick" / "ex" / "seed1" / "result.json").unlink()  # a run stopped before its end
    assert cli.stored_runs(tiny_lab, "quick", out) == (1, 2)
    assert cli.stored_runs(tiny_lab, "report", out) == (0, 2)
    monkeypatch.setattr(estimate, "seconds_per_image", lambda architecture: 0.001)
    assert cli.run_command(type("Args", (), {"lab_command": "list", "out": str(out)})()) == 0
    tiny = capsys.readouterr().out.split("tiny:")[1]
    assert "(1 of 2 runs stored)" in next(line for line in tiny.splitlines() if line.strip().startswith("quick"))
    assert "runs stored" not in next(line for line in tiny.splitlines() if line.strip().startswith("report"))


def test_time_left_uses_the_measured_speed_and_the_jobs(tmp_path, tiny_lab):
    out = tmp_path / "o"
    Lab("tiny", out=out, report_dir=tmp_path / "rep", progress=False).train(
        "ex", TINY_NAME, tiny_data(), epochs=3, batch_size=16, validation_split=0.25)
    folder = out / "tiny" / "quick" / "ex"
    assert Lab("tiny", out=out, report_dir=tmp_path / "rep", progress=False).time_left() == 0.0  # all done
    (folder / "seed1" / "result.json").unlink()
    seed0 = json.loads((folder / "seed0" / "result.json").read_text())
    planned = catalog.LABS["tiny"].planned("quick")[0]
    expected = seed0["wall_s"] / (seed0["epochs"] * planned.n_train) * planned.epochs * planned.n_train
    one = Lab("tiny", out=out, report_dir=tmp_path / "rep", progress=False).time_left()
    two = Lab("tiny", out=out, report_dir=tmp_path / "rep", jobs=2, progress=False).time_left()
    assert one == pytest.approx(expected, rel=1e-12)
    assert two == pytest.approx(expected / 2, rel=1e-12)  # two runs at a time: half the wall time
