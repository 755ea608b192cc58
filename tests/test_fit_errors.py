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
