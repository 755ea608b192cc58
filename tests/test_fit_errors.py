"""fit and friends on bad data: a NaN stops training with a diagnosis; pixels left at 0..255,
string labels, a single image, bad validation data get messages that name the fix."""
import warnings

import numpy as np
import pytest

import minicnn as mc

# NaN/overflow tests make NumPy warn inside the ops; that is what they test
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning", "ignore:overflow:RuntimeWarning")


def dense_net(seed=0):
    model = mc.Sequential([mc.Input((3,)), mc.Dense(4, activation="relu"), mc.Dense(2, activation="softmax")],
                          seed=seed)
    model.compile(mc.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    return model


# ------------------------------------------------------------------ NaN
def test_nan_in_the_inputs_stops_at_its_batch_naming_epoch_batch_and_cause():
    model = dense_net()
    x = np.ones((12, 3), np.float32)
    x[9, 1] = np.nan  # sample 9: the 3rd batch of 4
    before = model.get_weights()
    with pytest.raises(FloatingPointError) as err:
        model.fit(x, np.zeros(12, int), epochs=3, batch_size=4, shuffle=False, verbose=0)
    message = str(err.value)
    assert "the loss is nan at epoch 1/3, batch 3/3" in message
    assert "the inputs hold 1 non-finite values (NaN/inf), in 1 of the batch's 4 samples" in message
    assert "weights hold" not in message
    # two finite steps were taken, the NaN step was not: the weights moved and are finite
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after) and not np.array_equal(after[0], before[0])


def test_nan_in_the_weights_is_named():
    model = dense_net()
    model.layers[1].params["bias"].value[0] = np.inf
    with pytest.raises(FloatingPointError, match=r"epoch 1/1, batch 1/1; the weights hold non-finite values "
                                                 r"\(dense_1/bias\)"):
        model.fit(np.ones((4, 3), np.float32), np.zeros(4, int), epochs=1, batch_size=4, verbose=0)


def test_overflow_with_finite_data_and_weights_says_so():
    model = dense_net()
    model.layers[0].params["kernel"].value[:] = 3e38  # finite, but x @ W overflows float32
    with pytest.raises(FloatingPointError, match="all finite, so the values overflowed inside the network"):
        model.fit(np.ones((4, 3), np.float32), np.zeros(4, int), epochs=1, batch_size=4, verbose=0)


def test_terminate_on_nan_still_stops_quietly():
    model = dense_net()
    x = np.ones((8, 3), np.float32)
    x[5] = np.nan
    history = model.fit(x, np.zeros(8, int), epochs=2, batch_size=4, shuffle=False, verbose=0,
                        callbacks=[mc.TerminateOnNaN()])
    assert model.stop_training and history.epoch == [0]


# ------------------------------------------------------------------ pixels left at 0..255
def conv_net():
    model = mc.Sequential([mc.Input((4, 4, 1)), mc.Conv2D(2, 3), mc.Flatten(), mc.Dense(2, activation="softmax")],
                          seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("pixels", [np.full((4, 4, 4, 1), 200, np.uint8), np.full((4, 4, 4, 1), 200.0)],
                         ids=["uint8", "float"])
def test_raw_pixels_warn_once_per_fit_naming_the_fix(pixels):
    with pytest.warns(UserWarning, match=r"fit: the inputs go up to 200 .*x / 255.*conv2d \(Conv2D\)") as seen:
        conv_net().fit(pixels, np.zeros(4, int), epochs=3, batch_size=1, verbose=0)
    assert sum("x / 255" in str(w.message) for w in seen) == 1  # once per fit, not per epoch or batch


def test_scaled_pixels_and_non_pixel_first_layers_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conv_net().fit(np.full((4, 4, 4, 1), 200, np.uint8) / 255, np.zeros(4, int), verbose=0)
        conv_net().fit(np.ones((4, 4, 4, 1), np.uint8), np.zeros(4, int), verbose=0)  # a 0/1 mask
        bn_first = mc.Sequential([mc.Input((3,)), mc.BatchNorm(), mc.Dense(2, activation="softmax")])
        bn_first.compile("adam", "sparse_categorical_crossentropy")
        bn_first.fit(np.full((4, 3), 200.0), np.zeros(4, int), verbose=0)
        standardised = np.random.default_rng(0).standard_normal((64, 4, 4, 1)) * 2  # max ~ 6, negatives too
        conv_net().fit(standardised, np.zeros(64, int), verbose=0)


def test_raw_pixels_from_a_loader_warn_too():
    from minicnn.data import ArrayDataset, DataLoader
    loader = DataLoader(ArrayDataset(np.full((4, 4, 4, 1), 255, np.uint8), np.zeros(4, int)), batch_size=2)
    with pytest.warns(UserWarning, match="x / 255"):
        conv_net().fit(loader, epochs=1, verbose=0)


# ------------------------------------------------------------------ string labels
MAPPING_HINT = r"labels must be integers 0..K-1 \(or one-hot rows\), got text labels such as \['cat', 'dog'\]\. " \
               r"Map class names to integers first: classes, y_int = np.unique\(y, return_inverse=True\)"


def test_string_labels_in_to_categorical():
    from minicnn.data import to_categorical
    with pytest.raises(ValueError, match="to_categorical: " + MAPPING_HINT):
        to_categorical(["cat", "dog", "cat"], 3)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_string_labels_in_fit_evaluate_and_train_on_batch(loss):
    model = mc.Sequential([mc.Input((3,)), mc.Dense(2, activation="softmax")], seed=0)
    model.compile("adam", loss)
    x, names = np.ones((3, 3), np.float32), np.array(["cat", "dog", "cat"])
    with pytest.raises(ValueError, match="fit: " + MAPPING_HINT):
        model.fit(x, names, verbose=0)
    with pytest.raises(ValueError, match="evaluate: " + MAPPING_HINT):
        model.evaluate(x, names)
    with pytest.raises(ValueError, match=f"{loss}: " + MAPPING_HINT):
        model.train_on_batch(x, names)
    # the hint works: mapped labels train
    classes, y_int = np.unique(names, return_inverse=True)
    model.fit(x, y_int if loss.startswith("sparse") else np.eye(2)[y_int], verbose=0)


# ------------------------------------------------------------------ shapes
def test_predict_on_one_image_hints_a_batch_axis():
    model = conv_net()
    with pytest.raises(ValueError, match=r"expects shape \(N, 4, 4, 1\), got \(4, 4, 1\) "
                                         r"\(one sample\? add a batch axis: x\[None\]\)"):
        model.predict(np.zeros((4, 4, 1)))
    assert model.predict(np.zeros((4, 4, 1))[None]).shape == (1, 2)


def test_bad_validation_data_is_named():
    model = dense_net()
    x, y = np.ones((4, 3), np.float32), np.zeros(4, int)
    with pytest.raises(ValueError, match=r"fit: validation_data \(x_val, y_val\) does not fit the model: "
                                         r".*expects shape \(N, 3\), got \(1, 5\)"):
        model.fit(x, y, validation_data=(np.ones((2, 5)), np.zeros(2, int)), verbose=0)
    with pytest.raises(ValueError, match=r"fit: validation_data \(x_val, y_val\) does not fit the model: "
                                         r".*labels must be in \[0, 1\], got values in \[0, 7\]"):
        model.fit(x, y, validation_data=(np.ones((2, 3)), np.array([0, 7])), verbose=0)
    with pytest.raises(ValueError, match="fit: validation_data: x has 2 samples but y has 3"):
        model.fit(x, y, validation_data=(np.ones((2, 3)), np.zeros(3, int)), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data must be a pair \(x_val, y_val\) or a loader, got 3 "
                                         r"elements \(Keras' third element, sample weights, is not supported\)"):
        model.fit(x, y, validation_data=(np.ones((2, 3)), np.zeros(2, int), np.ones(2)), verbose=0)
    before = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # nothing trained


def test_training_labels_of_the_wrong_shape_are_named_with_the_real_shapes():
    model = dense_net()
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"fit: the training data \(x, y\) does not fit the model: .*one-hot "
                                         r"targets must have shape \(40, 2\), got \(40,\)"):
        model.fit(np.ones((40, 3)), np.zeros(40, int), batch_size=8, verbose=0)


def test_conv_window_larger_than_its_input_names_the_layer():
    with pytest.raises(ValueError, match=r"big \(Conv2D\): window 5x5 with strides 1x1 and padding 'valid' does "
                                         r"not fit an input of 3x3"):
        mc.Sequential([mc.Input((3, 3, 1)), mc.Conv2D(2, 5, name="big")])
