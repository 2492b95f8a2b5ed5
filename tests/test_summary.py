"""summary(): the Keras 2 (tf.keras 2.7+, layout B) text table, verbatim.

Independent truth: the reference text recorded in
``shared/reference/keras-behaviour.md`` (parsed out of the file when it is
present, and also copied below), the lecture's parameter table of
``001_8c4eb5aa5a6817f0.txt`` and the Dense formula ``in*out + out``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kerastyle as keras
from kerastyle.backend import clear_session
from kerastyle.layers import Dense, Input
from kerastyle.models import Sequential

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "keras-behaviour.md"


def _lines(*rows: str) -> list[str]:
    """Expected lines; a trailing ``|`` marks where the line ends (keeps trailing spaces visible)."""
    return [row[:-1] if row.endswith("|") else row for row in rows]


# Layout B for Sequential([Input((784,)), Dense(128, 'relu'), Dense(10, 'softmax')]), copied from
# keras-behaviour.md section 2 ("Layout B (TF 2.7+ / R keras at width 65)").
EXPECTED_784_128_10 = _lines(
    'Model: "sequential"',
    "_________________________________________________________________|",
    " Layer (type)                Output Shape              Param #   |",
    "=================================================================|",
    " dense (Dense)               (None, 128)               100480    |",
    "                                                                 |",
    " dense_1 (Dense)             (None, 10)                1290      |",
    "                                                                 |",
    "=================================================================|",
    "Total params: 101,770",
    "Trainable params: 101,770",
    "Non-trainable params: 0",
    "_________________________________________________________________|",
)

# The same frame for the lecture's 784-64-64-64-10 MNIST model (keras-behaviour.md: rows
# dense 50240, dense_1 4160, dense_2 4160, dense_3 650, Total params: 59,210).
EXPECTED_784_64_64_64_10 = _lines(
    'Model: "sequential"',
    "_________________________________________________________________|",
    " Layer (type)                Output Shape              Param #   |",
    "=================================================================|",
    " dense (Dense)               (None, 64)                50240     |",
    "                                                                 |",
    " dense_1 (Dense)             (None, 64)                4160      |",
    "                                                                 |",
    " dense_2 (Dense)             (None, 64)                4160      |",
    "                                                                 |",
    " dense_3 (Dense)             (None, 10)                650       |",
    "                                                                 |",
    "=================================================================|",
    "Total params: 59,210",
    "Trainable params: 59,210",
    "Non-trainable params: 0",
    "_________________________________________________________________|",
)


@pytest.fixture(autouse=True)
def _fresh_session():
    clear_session()
    yield
    clear_session()


def _captured(model, **kwargs) -> list[str]:
    lines: list[str] = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def _lecture_mnist_model():
    model = Sequential()
    model.add(Dense(64, activation="relu", input_shape=(784,)))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model


@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"{REFERENCE} not found")
def test_embedded_expected_text_is_the_reference_text():
    text = REFERENCE.read_text(encoding="utf-8")
    match = re.search(r"Layout B \(TF 2\.7\+[^\n]*\n```\n(.*?)\n```", text, re.S)
    assert match, "layout B block not found in keras-behaviour.md"
    assert match.group(1).split("\n") == EXPECTED_784_128_10


def test_summary_784_128_10_verbatim():
    model = Sequential([Input((784,)), Dense(128, "relu"), Dense(10, "softmax")])
    assert _captured(model) == EXPECTED_784_128_10


def test_summary_prints_to_stdout(capsys):
    model = Sequential([Input((784,)), Dense(128, "relu"), Dense(10, "softmax")])
    model.summary()
    assert capsys.readouterr().out == "\n".join(EXPECTED_784_128_10) + "\n"


def test_summary_lecture_mnist_model_verbatim():
    assert _captured(_lecture_mnist_model()) == EXPECTED_784_64_64_64_10


def test_padding_and_columns():
    lines = _captured(_lecture_mnist_model())
    unpadded = {lines[0], *[line for line in lines if "params:" in line]}
    for line in lines:
        if line not in unpadded:
            assert len(line) == 65, repr(line)
    header = lines[2]
    assert header.index("Output Shape") == 29
    assert header.index("Param #") == 55
    first_row = lines[4]
    assert first_row[29:].startswith("(None, 64)") and first_row[55:].startswith("50240")


def test_count_params_matches_dense_formula():
    model = Sequential([Input((784,)), Dense(128, "relu"), Dense(10, "softmax")])
    assert model.count_params() == (784 * 128 + 128) + (128 * 10 + 10) == 101_770
    assert [layer.count_params() for layer in model.layers] == [100_480, 1_290]
    assert _lecture_mnist_model().count_params() == 59_210


def test_breakdown_table_matches_lecture():
    # 001_8c4eb5aa5a6817f0.txt: weights 50,176 4,096 4,096 640 = 59,008; bias 64 64 64 10 = 202;
    # TOTAL 50,240 4,160 4,160 650 = 59,210.
    lines = _captured(_lecture_mnist_model(), breakdown=True)
    assert lines[: len(EXPECTED_784_64_64_64_10)] == EXPECTED_784_64_64_64_10
    rows = {line.split()[0]: line.split()[1:] for line in lines[len(EXPECTED_784_64_64_64_10):] if line.strip()}
    assert rows["weights"] == ["50,176", "4,096", "4,096", "640", "59,008"]
    assert rows["bias"] == ["64", "64", "64", "10", "202"]
    assert rows["TOTAL"] == ["50,240", "4,160", "4,160", "650", "59,210"]
    assert rows["units"][0] == "784" and rows["units"][1:5] == ["64", "64", "64", "10"]


def test_breakdown_is_optional():
    assert len(_captured(_lecture_mnist_model())) == len(EXPECTED_784_64_64_64_10)


def test_three_by_1024_network():
    # The slide prints 2.913.920; the arithmetic gives 2,913,290.
    model = Sequential([Dense(1024, "relu", input_shape=(784,)), Dense(1024, "relu"), Dense(1024, "relu"),
                        Dense(10, "softmax")])
    expected = (784 * 1024 + 1024) + 2 * (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert expected == 2_913_290
    assert model.count_params() == expected
    assert "Total params: 2,913,290" in _captured(model)


def test_names_count_per_session_and_reset():
    first = Sequential([Input((4,)), Dense(3), Dense(2)])
    second = Sequential([Input((4,)), Dense(3), Dense(3), Dense(3), Dense(2)])
    assert first.name == "sequential" and [layer.name for layer in first.layers] == ["dense", "dense_1"]
    assert second.name == "sequential_1"
    assert [layer.name for layer in second.layers] == ["dense_2", "dense_3", "dense_4", "dense_5"]
    assert _captured(second)[0] == 'Model: "sequential_1"'
    keras.backend.clear_session()
    again = Sequential([Input((4,)), Dense(2)])
    assert again.name == "sequential" and again.layers[0].name == "dense"


def test_explicit_names_and_other_layers_in_summary():
    model = Sequential(name="tiny")
    model.add(Input((28, 28)))
    model.add(keras.layers.Flatten())
    model.add(Dense(8, name="hidden"))
    model.add(keras.layers.Dropout(0.5))
    model.add(keras.layers.Activation("relu"))
    lines = _captured(model)
    assert lines[0] == 'Model: "tiny"'
    body = [line.rstrip() for line in lines[4:] if line.strip() and not line.startswith("=")]
    assert body[:4] == [
        " flatten (Flatten)           (None, 784)               0",
        " hidden (Dense)              (None, 8)                 6280",
        " dropout (Dropout)           (None, 8)                 0",
        " activation (Activation)     (None, 8)                 0",
    ]
    assert "Total params: 6,280" in lines


def test_unbuilt_summary_raises():
    model = Sequential([Dense(10), Dense(2)])
    with pytest.raises(ValueError, match=r"not been built.*input_shape"):
        model.summary()
    with pytest.raises(ValueError, match="not built"):
        model.count_params()


def test_summary_after_build_call():
    model = Sequential([Dense(128, "relu"), Dense(10, "softmax")])
    model.build((None, 784))
    assert _captured(model) == EXPECTED_784_128_10
