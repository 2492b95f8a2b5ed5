"""Every hook of LambdaCallback is called by fit (with validation), evaluate and predict in the order Keras 3
calls them (real Keras as the oracle); ProgbarLogger draws the bar; plot_model's graph and errors."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerastyle  # noqa: E402
from kerastyle.callbacks.lambda_callback import HOOKS  # noqa: E402

X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
Y = np.random.default_rng(1).normal(size=(10, 1)).astype(np.float32)
MAIN_HOOKS = [h for h in HOOKS if h not in ("on_batch_begin", "on_batch_end")]


def recorder(lib, events):
    def hook(name):
        if name.endswith(("_begin", "_end")) and ("epoch" in name or "batch" in name):
            return lambda index, logs=None: events.append((name, index))
        return lambda logs=None: events.append((name, None))
    return lib.callbacks.LambdaCallback(**{name: hook(name) for name in MAIN_HOOKS})


def run(lib, model):
    events = []
    model.compile("sgd", "mse")
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0, validation_data=(X, Y), validation_freq=2,
              callbacks=[recorder(lib, events)])
    model.evaluate(X, Y, batch_size=5, verbose=0, callbacks=[recorder(lib, events)])
    model.predict(X, batch_size=6, verbose=0, callbacks=[recorder(lib, events)])
    return events


def test_hook_sequence_matches_keras():
    keras = pytest.importorskip("keras")
    expected = run(keras, keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]))
    got = run(kerastyle, kerastyle.Sequential([kerastyle.layers.Dense(1, input_shape=(3,))]))
    assert got == expected


def test_lambda_callback_rejects_unknown_and_non_callable_hooks():
    with pytest.raises(TypeError, match="on_epoch_ending"):
        kerastyle.callbacks.LambdaCallback(on_epoch_ending=print)
    with pytest.raises(TypeError, match="on_test_end"):
        kerastyle.callbacks.LambdaCallback(on_test_end=3)
    # Keras 2's batch hook names work too
    seen = []
    cb = kerastyle.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen.append(batch))
    model = kerastyle.Sequential([kerastyle.layers.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    model.fit(X, Y, batch_size=5, epochs=1, verbose=0, callbacks=[cb])
    assert seen == [0, 1]


def test_progbar_logger_draws_one_bar(capsys):
    model = kerastyle.Sequential([kerastyle.layers.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    model.fit(X, Y, batch_size=5, epochs=2, verbose=0, callbacks=[kerastyle.callbacks.ProgbarLogger()])
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    assert "2/2" in out and "loss:" in out
    model.fit(X, Y, batch_size=5, epochs=1, verbose=1, callbacks=[kerastyle.callbacks.ProgbarLogger()])
    assert capsys.readouterr().out.count("Epoch 1/1") == 1  # not two bars
    with pytest.raises(ValueError, match="count_mode"):
        kerastyle.callbacks.ProgbarLogger(count_mode="batches")


def test_plot_model_graph_and_clear_errors(tmp_path):
    from kerastyle.utils.plot_model import layer_graph
    inputs = kerastyle.Input((3,), name="features")
    a = kerastyle.layers.Dense(2, name="left")(inputs)
    b = kerastyle.layers.Dense(2, name="right")(inputs)
    out = kerastyle.layers.Concatenate(name="join")([a, b])
    model = kerastyle.Model(inputs, out)
    nodes, edges = layer_graph(model, show_shapes=True)
    names = {node_id: label.split(" ")[0] for node_id, label in nodes}
    assert sorted((names[s], names[t]) for s, t in edges) == [("features", "left"), ("features", "right"),
                                                             ("left", "join"), ("right", "join")]
    assert any("output: (None, 4)" in label for _, label in nodes)
    seq = kerastyle.Sequential([kerastyle.layers.Dense(2, input_shape=(3,), name="d1"),
                                kerastyle.layers.Dense(1, name="d2")])
    nodes, edges = layer_graph(seq)
    assert [label for _, label in nodes] == ["d1 (Dense)", "d2 (Dense)"] and len(edges) == 1
    try:
        import pydot  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pydot"):
            kerastyle.utils.plot_model(model, to_file=str(tmp_path / "m.png"), show_shapes=True)
    with pytest.raises(ValueError, match="not built"):
        layer_graph(kerastyle.Sequential([kerastyle.layers.Dense(1)]))


def test_summary_accepts_show_trainable_and_expand_nested(capsys):
    model = kerastyle.Sequential([kerastyle.layers.Dense(2, input_shape=(3,))])
    model.layers[0].trainable = False
    model.summary(show_trainable=True, expand_nested=True)
    out = capsys.readouterr().out
    assert "Trainable" in out and "Non-trainable params: 8" in out
