"""fit/evaluate/predict on every data source: a DataLoader, a torch Dataset, a generator and a PyDataset
give the same weights as the array fit with the same batch order; steps semantics as Keras 3;
uint8 inputs are not copied to float32."""

import tracemalloc
import warnings

import numpy as np
import pytest
import torch

import kerastyle as keras

N, D, K, B = 120, 6, 3, 20
RNG = np.random.default_rng(0)
X = RNG.integers(0, 256, (N, D)).astype(np.uint8)
Y = RNG.integers(0, K, N)


def make(engine_friendly=True):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(D,)),
                              keras.layers.Dense(K, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.001), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def array_weights(epochs=2, **kw):
    model = make()
    model.fit(X, Y, batch_size=B, epochs=epochs, shuffle=False, verbose=0, **kw)
    return model.get_weights()


def same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def chunks():
    return [(X[i:i + B], Y[i:i + B]) for i in range(0, N, B)]


class Batches(keras.utils.Sequence):
    def __init__(self):
        self.ends = 0

    def __len__(self):
        return N // B

    def __getitem__(self, i):
        return X[i * B:(i + 1) * B], Y[i * B:(i + 1) * B]

    def on_epoch_end(self):
        self.ends += 1


def test_dataloader_dataset_generator_pydataset_match_arrays():
    reference = array_weights()
    tensors = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    model = make()
    model.fit(torch.utils.data.DataLoader(tensors, batch_size=B), epochs=2, verbose=0)
    same(reference, model.get_weights())
    model = make()
    model.fit(tensors, batch_size=B, shuffle=False, epochs=2, verbose=0)
    same(reference, model.get_weights())

    def forever():
        while True:
            yield from chunks()
    model = make()
    model.fit(forever(), steps_per_epoch=N // B, epochs=2, verbose=0)
    same(reference, model.get_weights())
    model = make()
    source = Batches()
    history = model.fit(source, epochs=2, verbose=0, shuffle=False)
    same(reference, model.get_weights())
    assert source.ends == 2 and len(history.history["loss"]) == 2


def test_history_and_evaluate_match_arrays():
    model = make()
    expected = model.fit(X, Y, batch_size=B, epochs=2, shuffle=False, verbose=0,
                         validation_data=(X[:40], Y[:40])).history
    model = make()
    got = model.fit(Batches(), epochs=2, verbose=0, shuffle=False, validation_data=iter(chunks()[:2] * 2),
                    validation_steps=2).history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(Batches(), verbose=0), model.evaluate(X, Y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(model.predict(iter(chunks()), verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(model.predict(torch.utils.data.DataLoader(torch.from_numpy(X), batch_size=7),
                                             verbose=0), model.predict(X, verbose=0), rtol=1e-6)


def test_validation_freq_and_batch_size():
    model = make()
    seen = []
    cb = keras.callbacks.LambdaCallback(on_test_batch_end=lambda b, logs: seen.append(b))
    history = model.fit(X, Y, batch_size=B, epochs=4, verbose=0, validation_data=(X, Y), validation_freq=2,
                        validation_batch_size=60, callbacks=[cb])
    assert len(history.history["val_loss"]) == 2  # epochs 2 and 4
    assert seen == [0, 1, 0, 1]  # N / 60 = 2 validation batches, twice


def test_steps_per_epoch_carries_the_iterator_and_warns_when_short():
    model = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(iter(chunks()), steps_per_epoch=4, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 2  # 4 + 2 batches, then the generator is done: training stops
    assert any("ran out of data" in str(w.message) for w in caught)
    # A sized source with steps_per_epoch < len continues where the previous epoch stopped.
    order = []

    class Recording(Batches):
        def __getitem__(self, i):
            order.append(i)
            return super().__getitem__(i)
    with pytest.warns(UserWarning, match="ran out of data"):
        history = make().fit(Recording(), steps_per_epoch=4, epochs=3, verbose=0, shuffle=False)
    # As Keras 3: 6 batches per pass, 4 per epoch; epoch 2 ends early when the pass does, epoch 3 starts anew.
    assert order == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]
    assert len(history.history["loss"]) == 3


def test_errors_are_clear():
    model = make()

    def gen():
        while True:
            yield X[:B], Y[:B]
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(gen(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`y` must not be given"):
        model.fit(Batches(), Y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(Batches(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="validation_steps"):
        model.fit(Batches(), validation_data=gen(), verbose=0)
    with pytest.raises(ValueError, match="no batches"):
        model.fit(iter([]), steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="without targets"):
        model.fit(torch.utils.data.DataLoader(torch.from_numpy(X), batch_size=B), verbose=0)


def test_generator_methods_warn_and_work():
    reference = array_weights(epochs=1)
    model = make()
    with pytest.warns(DeprecationWarning, match="fit_generator"):
        model.fit_generator(iter(chunks()), steps_per_epoch=N // B, epochs=1, verbose=0)
    same(reference, model.get_weights())
    with pytest.warns(DeprecationWarning, match="evaluate_generator"):
        loss = model.evaluate_generator(Batches())
    np.testing.assert_allclose(loss, model.evaluate(X, Y, verbose=0), rtol=1e-5)
    with pytest.warns(DeprecationWarning, match="predict_generator"):
        out = model.predict_generator(iter(chunks()), steps=2)
    assert out.shape == (2 * B, K)


def test_sample_weights_and_class_weights_from_a_generator():
    w = RNG.random(N).astype(np.float32)
    model = make()
    model.fit(X, Y, sample_weight=w, batch_size=B, epochs=1, shuffle=False, verbose=0)
    expected = model.get_weights()
    model = make()
    model.fit(iter([(X[i:i + B], Y[i:i + B], w[i:i + B]) for i in range(0, N, B)]), steps_per_epoch=N // B,
              verbose=0)
    same(expected, model.get_weights())
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    model = make()
    model.fit(X, Y, class_weight=cw, batch_size=B, epochs=1, shuffle=False, verbose=0)
    expected = model.get_weights()
    model = make()
    model.fit(Batches(), class_weight=cw, verbose=0, shuffle=False)
    same(expected, model.get_weights())


def test_pydataset_batch_order_is_shuffled_by_default():
    order = []

    class Recording(Batches):
        def __getitem__(self, i):
            order.append(i)
            return super().__getitem__(i)
    keras.utils.set_random_seed(0)
    make().fit(Recording(), epochs=3, verbose=0)
    passes = [order[i:i + N // B] for i in range(0, len(order), N // B)]
    # The peek at construction reads batch 0 of the first pass; every pass is a permutation.
    assert all(sorted(p) == list(range(N // B)) for p in passes[1:])
    assert any(p != list(range(N // B)) for p in passes)


def test_unbuilt_model_builds_from_the_first_batch_and_analytic_engine_trains():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(K, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(Batches(), epochs=1, verbose=0, engine="analytic")
    assert model.built and model.input_shape == (None, D)
    assert np.isfinite(history.history["loss"][0])


def test_uint8_inputs_stay_uint8_and_train_like_float():
    model = make()
    model.fit(X, Y, batch_size=B, epochs=1, shuffle=True, verbose=0)
    keras.utils.set_random_seed(5)
    model_u8 = make()
    keras.utils.set_random_seed(5)
    model_u8.fit(X, Y, batch_size=B, epochs=1, verbose=0)
    keras.utils.set_random_seed(5)
    model_f = make()
    keras.utils.set_random_seed(5)
    model_f.fit(X.astype(np.float32), Y, batch_size=B, epochs=1, verbose=0)
    same(model_f.get_weights(), model_u8.get_weights())
    # Memory: a uint8 array of 4 MB must not become a 16 MB float32 copy (numpy/torch CPU allocations).
    big = np.zeros((4000, 1000), np.uint8)
    labels = np.zeros(4000, np.int64)
    keras.utils.set_random_seed(1)
    small = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(1000,))])
    small.compile("sgd", "sparse_categorical_crossentropy")
    from kerastyle.trainers.data_adapters import ArrayData
    data = ArrayData.inputs_only(small, big)
    assert data.x[0].dtype == torch.uint8
    assert data.x[0].data_ptr() == torch.from_numpy(big).data_ptr()  # not even copied on the CPU
    tracemalloc.start()
    small.fit(big, labels, batch_size=500, epochs=1, verbose=0, shuffle=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4000 * 1000 * 4  # (torch's own allocations are not traced; numpy copies would be)


def test_shuffled_uint8_uses_uint8_buffers():
    from kerastyle.trainers.data_adapters import ArrayData, EpochBatches
    model = make()
    data = ArrayData.inputs_only(model, X)
    batches = EpochBatches(data, B, shuffle=True)
    assert batches.buffers[0].dtype == torch.uint8
    xb, _, _ = next(iter(batches.new_epoch()))
    assert xb.dtype == torch.float32 and xb.shape == (B, D)
    assert sorted(map(tuple, torch.cat([b for b, _, _ in batches.new_epoch()]).long().tolist())) == \
        sorted(map(tuple, X.astype(np.int64).tolist()))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_streamed_integer_labels_train_like_arrays_and_are_still_checked(dtype):
    # Integer label tensors of a DataLoader skip the float32 round trip; the weights are those of the
    # array fit (which converts the labels once) and bad labels still fail with the same clear message.
    reference = array_weights()
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y).to(dtype))
    model = make()
    model.fit(torch.utils.data.DataLoader(data, batch_size=B), epochs=2, verbose=0)
    same(reference, model.get_weights())
    np.testing.assert_allclose(model.evaluate(torch.utils.data.DataLoader(data, batch_size=B), verbose=0),
                               model.evaluate(X, Y, verbose=0), rtol=1e-6)
    bad = torch.from_numpy(Y).to(dtype).clone()
    bad[B + 3] = K  # in the second batch: found by the per-batch check, not only by the first batch's
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(X), bad), batch_size=B)
    with pytest.raises(ValueError, match=rf"labels in \[0, {K}\].*labels must be in \[0, {K - 1}\]"):
        make().fit(loader, epochs=1, verbose=0)


def test_streamed_float_and_negative_labels_are_refused():
    model = make()
    halves = [(X[:B], Y[:B] + 0.5)]
    with pytest.raises(ValueError, match=r"integer class labels.*such as \d\.5"):
        model.fit(iter(halves), steps_per_epoch=1, verbose=0)
    negative = torch.from_numpy(Y[:B]).clone()
    negative[0] = -1
    with pytest.raises(ValueError, match=r"labels in \[-1, "):
        model.fit(iter([(X[:B], negative)]), steps_per_epoch=1, verbose=0)
    binary = keras.Sequential([keras.layers.Dense(1, activation="sigmoid", input_shape=(D,))])
    binary.compile("sgd", "binary_crossentropy")
    with pytest.raises(ValueError, match=r"values in \[0, 2\].*targets in \[0, 1\]"):
        binary.fit(iter([(X[:B], np.where(np.arange(B) < 3, 2.0, 0.0))]), steps_per_epoch=1, verbose=0)
