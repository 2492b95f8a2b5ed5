"""kerastyle.preprocessing: Keras 2's helpers against Keras's own legacy code (shipped in Keras 3.15
as keras.src.legacy.preprocessing) and hand-computed expectations."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import math

import numpy as np
import pytest

import kerastyle as ks
from kerastyle.preprocessing.image import ImageDataGenerator, array_to_img, img_to_array, load_img
from kerastyle.preprocessing.text import Tokenizer, text_to_word_sequence, tokenizer_from_json

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "Cat, dog: THE end", ""]


@pytest.fixture(scope="module")
def legacy_text():
    pytest.importorskip("keras")
    from keras.src.legacy.preprocessing import text

    return text


@pytest.fixture(scope="module")
def legacy_image():
    pytest.importorskip("keras")
    pytest.importorskip("scipy")
    from keras.src.legacy.preprocessing import image

    return image


# ----------------------------------------------------------------------------
# text
# ----------------------------------------------------------------------------


def test_tokenizer_by_hand():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    # counts: the 4, cat 2, dog 2, then once each in first-seen order
    assert list(tok.word_index) == ["the", "cat", "dog", "sat", "on", "mat", "ate", "my", "homework", "end"]
    assert tok.word_index["the"] == 1 and tok.word_counts["the"] == 4 and tok.document_count == 4
    assert tok.word_docs["the"] == 3
    assert tok.texts_to_sequences(["the cat ate a fish"]) == [[1, 2, 7]]
    assert text_to_word_sequence("Hello, World!  again") == ["hello", "world", "again"]

    limited = Tokenizer(num_words=3, oov_token="<OOV>")
    limited.fit_on_texts(TEXTS)
    assert limited.word_index["<OOV>"] == 1 and limited.word_index["the"] == 2
    # only indices < 3 survive: <OOV>=1, the=2; everything else becomes 1
    assert limited.texts_to_sequences(["the cat ate zebra"]) == [[2, 1, 1, 1]]
    assert limited.sequences_to_texts([[2, 1, 3]]) == ["the <OOV> <OOV>"]


def test_texts_to_matrix_modes_by_hand():
    tok = Tokenizer(num_words=4)
    tok.fit_on_texts(["a a b", "a c"])  # a:1 (3 times, 2 docs) b:2 c:3
    text = ["a a b d"]
    np.testing.assert_array_equal(tok.texts_to_matrix(text, mode="binary"), [[0, 1, 1, 0]])
    np.testing.assert_array_equal(tok.texts_to_matrix(text, mode="count"), [[0, 2, 1, 0]])
    np.testing.assert_allclose(tok.texts_to_matrix(text, mode="freq"), [[0, 2 / 3, 1 / 3, 0]])
    idf_a, idf_b = math.log(1 + 2 / (1 + 2)), math.log(1 + 2 / (1 + 1))
    np.testing.assert_allclose(tok.texts_to_matrix(text, mode="tfidf"),
                               [[0, (1 + math.log(2)) * idf_a, 1 * idf_b, 0]])
    with pytest.raises(ValueError, match="`mode` must be one of binary, count, tfidf, freq, got 'tf'"):
        tok.texts_to_matrix(text, mode="tf")


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 5}, {"num_words": 4, "oov_token": "<unk>"},
                                    {"char_level": True}, {"lower": False, "split": " "}])
def test_tokenizer_matches_keras2_legacy(legacy_text, kwargs):
    ours, theirs = Tokenizer(**kwargs), legacy_text.Tokenizer(**kwargs)
    ours.fit_on_texts(TEXTS)
    theirs.fit_on_texts(TEXTS)
    assert ours.word_index == theirs.word_index
    assert dict(ours.word_counts) == dict(theirs.word_counts)
    probe = ["the zebra ate THE cat", "dog dog end"]
    assert ours.texts_to_sequences(probe) == theirs.texts_to_sequences(probe)
    seqs = theirs.texts_to_sequences(TEXTS)
    assert ours.sequences_to_texts(seqs) == theirs.sequences_to_texts(seqs)
    for mode in ("binary", "count", "tfidf", "freq"):
        np.testing.assert_allclose(ours.texts_to_matrix(probe, mode=mode), theirs.texts_to_matrix(probe, mode=mode))


def test_tokenizer_json_round_trip_and_bad_input():
    tok = Tokenizer(num_words=6, oov_token="?")
    tok.fit_on_texts(TEXTS)
    back = tokenizer_from_json(tok.to_json())
    assert back.word_index == tok.word_index and back.num_words == 6
    np.testing.assert_array_equal(back.texts_to_matrix(TEXTS, mode="tfidf"), tok.texts_to_matrix(TEXTS, mode="tfidf"))
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'num_word'"):
        Tokenizer(num_word=3)
    with pytest.raises(TypeError, match="got one string"):
        tok.fit_on_texts("just one text")
    with pytest.raises(ValueError, match="call fit_on_texts first"):
        Tokenizer().texts_to_matrix(["a"])
    with pytest.raises(ValueError, match="`num_words` must be None or an integer >= 1, got 0"):
        Tokenizer(num_words=0)


# ----------------------------------------------------------------------------
# image: generator maths
# ----------------------------------------------------------------------------


def _dot_image(h=6, w=6, at=(2, 3)):
    x = np.zeros((h, w, 1), dtype="float32")
    x[at] = 1.0
    return x


def test_known_shifts_and_flips_move_known_pixels():
    gen = ImageDataGenerator(fill_mode="constant")
    x = _dot_image(5, 7)
    assert np.argwhere(gen.apply_transform(x, {"tx": 1})[..., 0] > 0.5).tolist() == [[1, 3]]  # rows: height
    assert np.argwhere(gen.apply_transform(x, {"ty": -2})[..., 0] > 0.5).tolist() == [[2, 5]]  # cols: width
    assert np.argwhere(gen.apply_transform(x, {"flip_horizontal": True})[..., 0] > 0.5).tolist() == [[2, 3]]
    y = _dot_image(5, 7, (0, 1))
    np.testing.assert_array_equal(gen.apply_transform(y, {"flip_horizontal": True}), y[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(y, {"flip_vertical": True}), y[::-1])
    # 90 degrees about the centre (2, 3): input (0, 3) lands at output (2, 5)
    assert np.argwhere(gen.apply_transform(y * 0 + _dot_image(5, 7, (0, 3)), {"theta": 90})[..., 0] > 0.5
                       ).tolist() == [[2, 5]]
    # zoom 2 on rows reads rows twice as far from the centre: the dot at row 0 shows at row 1
    z = gen.apply_transform(_dot_image(5, 7, (0, 3)), {"zx": 2.0})
    assert np.argwhere(z[..., 0] > 0.4).tolist() == [[1, 3]]


def test_fill_modes_by_hand():
    x = np.arange(5, dtype="float32").reshape(1, 5, 1) * np.ones((5, 1, 1), dtype="float32")  # columns 0..4
    shift = {"ty": -2}  # output col c reads input col c - 2
    rows = {mode: ImageDataGenerator(fill_mode=mode, cval=9).apply_transform(x, shift)[0, :, 0].tolist()
            for mode in ("constant", "nearest", "reflect", "wrap")}
    expected = {"constant": [9, 9, 0, 1, 2], "nearest": [0, 0, 0, 1, 2], "reflect": [1, 0, 0, 1, 2],
                "wrap": [3, 4, 0, 1, 2]}
    for mode, values in expected.items():
        np.testing.assert_allclose(rows[mode], values, atol=1e-5, err_msg=mode)


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "constant"])
def test_affine_transform_matches_keras_legacy_on_square_images(legacy_image, fill_mode):
    """Keras 3.15's legacy copy transforms in (col, row) order; for a square image and no shear
    its (theta, tx, ty, zx, zy) equal ours with rows and columns swapped: (-theta, ty, tx, zy, zx)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(9, 9, 3)).astype("float32")
    gen = ImageDataGenerator(fill_mode=fill_mode, cval=7.0)
    cases = [(30, 0, 0, 1, 1), (0, 1.5, -2.25, 1, 1), (-20, 0.5, 1, 0.8, 1.3), (0, 0, 0, 1.7, 0.6)]
    for theta, tx, ty, zx, zy in cases:
        theirs = legacy_image.apply_affine_transform(x, theta=theta, tx=tx, ty=ty, zx=zx, zy=zy, row_axis=0,
                                                     col_axis=1, channel_axis=2, fill_mode=fill_mode, cval=7.0,
                                                     order=1)
        ours = gen.apply_transform(x, {"theta": -theta, "tx": ty, "ty": tx, "zx": zy, "zy": zx})
        np.testing.assert_allclose(ours, theirs, atol=2e-3, err_msg=f"{theta, tx, ty, zx, zy}")


def test_standardize_and_fit_match_keras_legacy(legacy_image):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, size=(10, 4, 4, 3)).astype("float32")
    kwargs = dict(featurewise_center=True, featurewise_std_normalization=True, rescale=1 / 255)
    ours, theirs = ImageDataGenerator(**kwargs), legacy_image.ImageDataGenerator(**kwargs)
    ours.fit(x)
    theirs.fit(x)
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-5)
    np.testing.assert_allclose(ours.standardize(x.copy()), theirs.standardize(x.copy()), rtol=1e-4, atol=1e-5)
    sample = dict(samplewise_center=True, samplewise_std_normalization=True)
    np.testing.assert_allclose(ImageDataGenerator(**sample).standardize(x[0].copy()),
                               legacy_image.ImageDataGenerator(**sample).standardize(x[0].copy()), rtol=1e-5)
    with pytest.raises(ValueError, match=r"call \.fit\(x_train\) first"):
        ImageDataGenerator(featurewise_center=True).standardize(x)


# ----------------------------------------------------------------------------
# image: iterators
# ----------------------------------------------------------------------------


def test_flow_without_augmentation_matches_keras_legacy(legacy_image):
    x = np.arange(10 * 3 * 3 * 1, dtype="float32").reshape(10, 3, 3, 1)
    y = np.arange(10) % 2
    ours = ImageDataGenerator(rescale=0.5, validation_split=0.3)
    theirs = legacy_image.ImageDataGenerator(rescale=0.5, validation_split=0.3)
    for subset in ("training", "validation"):
        a = ours.flow(x, y, batch_size=4, shuffle=False, subset=subset)
        b = theirs.flow(x, y, batch_size=4, shuffle=False, subset=subset)
        assert len(a) == len(b)
        for i in range(len(a)):
            np.testing.assert_array_equal(a[i][0], b[i][0])
            np.testing.assert_array_equal(a[i][1], b[i][1])


def test_flow_is_a_pydataset_with_seeded_shuffling_and_augmentation():
    x = np.random.default_rng(0).uniform(size=(7, 4, 4, 1)).astype("float32")
    y = np.arange(7)
    gen = ImageDataGenerator(horizontal_flip=True, width_shift_range=0.2)
    it = gen.flow(x, y, batch_size=3, seed=5)
    assert isinstance(it, ks.utils.PyDataset) and len(it) == 3
    labels = np.concatenate([it[i][1] for i in range(len(it))])
    assert sorted(labels.tolist()) == list(range(7)) and labels.tolist() != list(range(7))
    again = gen.flow(x, y, batch_size=3, seed=5)
    np.testing.assert_array_equal(it[1][0], again[1][0])  # same seed: same batch, same augmentation
    it.on_epoch_end()
    assert np.concatenate([it[i][1] for i in range(3)]).tolist() != labels.tolist()  # new epoch, new order
    # Keras 2 generator style: next() runs over epochs forever
    stream = gen.flow(x, batch_size=4, shuffle=False)
    sizes = [len(next(stream)) for _ in range(5)]
    assert sizes == [4, 3, 4, 3, 4]
    with pytest.raises(ValueError, match="different classes after the split"):
        ImageDataGenerator(validation_split=0.5).flow(x, np.array([0, 0, 0, 1, 1, 1, 1]), subset="training")
    with pytest.raises(ValueError, match=r"`x` must be a 4-D array .* got shape \(7, 4, 4\)"):
        gen.flow(x[..., 0])


def test_fit_trains_on_a_flow_when_the_trainer_takes_pydatasets():
    """Interface check only: a model consumes each batch of the iterator."""
    x = np.random.default_rng(0).uniform(size=(8, 4, 4, 1)).astype("float32")
    y = ks.utils.to_categorical(np.arange(8) % 2, 2)
    it = ImageDataGenerator(rescale=1.0).flow(x, y, batch_size=4, shuffle=False)
    xb, yb = it[0]
    assert xb.shape == (4, 4, 4, 1) and yb.shape == (4, 2) and xb.dtype == np.float32


def _write_images(root, layout, size=(5, 4)):
    Image = pytest.importorskip("PIL.Image")
    for cls, count in layout.items():
        (root / cls).mkdir(parents=True)
        for i in range(count):
            pixels = np.full((size[1], size[0], 3), 10 * i + (100 if cls == "dogs" else 0), dtype="uint8")
            Image.fromarray(pixels).save(root / cls / f"img{i}.png")
    (root / "cats" / "notes.txt").write_text("not an image")


def test_flow_from_directory_matches_keras_legacy(legacy_image, tmp_path, capsys):
    _write_images(tmp_path, {"cats": 4, "dogs": 3})
    for subset in (None, "training", "validation"):
        kwargs = dict(target_size=(3, 2), batch_size=5, shuffle=False, subset=subset)
        ours = ImageDataGenerator(rescale=1 / 255, validation_split=0.5).flow_from_directory(tmp_path, **kwargs)
        theirs = legacy_image.ImageDataGenerator(rescale=1 / 255, validation_split=0.5).flow_from_directory(
            str(tmp_path), **kwargs)
        assert ours.filenames == theirs.filenames and ours.class_indices == theirs.class_indices
        np.testing.assert_array_equal(ours.classes, theirs.classes)
        for i in range(len(theirs)):
            np.testing.assert_allclose(ours[i][0], theirs[i][0], rtol=1e-6)
            np.testing.assert_array_equal(ours[i][1], theirs[i][1])
    out = capsys.readouterr().out
    assert "Found 7 images belonging to 2 classes." in out and "Found 3 images belonging to 2 classes." in out


def test_flow_from_directory_class_modes_and_errors(tmp_path, capsys):
    _write_images(tmp_path, {"cats": 2, "dogs": 2})
    gen = ImageDataGenerator()
    sparse = gen.flow_from_directory(tmp_path, target_size=(4, 5), class_mode="sparse", shuffle=False, batch_size=4)
    xb, yb = sparse[0]
    assert xb.shape == (4, 4, 5, 3) and yb.tolist() == [0, 0, 1, 1]
    assert xb[2, 0, 0].tolist() == [100, 100, 100]  # dogs/img0.png
    gray = gen.flow_from_directory(tmp_path, target_size=(4, 5), color_mode="grayscale", class_mode=None)
    assert gray[0].shape == (4, 4, 5, 1)
    with pytest.raises(ValueError, match="`class_mode` must be .* got 'onehot'"):
        gen.flow_from_directory(tmp_path, class_mode="onehot")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        gen.flow_from_directory(tmp_path / "missing")


def test_image_helpers_match_keras(tmp_path):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 3, size=(6, 5, 3)).astype("float32")
    ours, theirs = array_to_img(x), keras.utils.array_to_img(x)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    ours.save(tmp_path / "a.png")
    for kwargs in ({}, {"color_mode": "grayscale"}, {"target_size": (3, 4)}, {"target_size": (4, 4),
                                                                              "keep_aspect_ratio": True}):
        np.testing.assert_array_equal(img_to_array(load_img(tmp_path / "a.png", **kwargs)),
                                      keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png", **kwargs)))


def test_bad_generator_arguments_are_refused():
    with pytest.raises(ValueError, match="`fill_mode` must be one of constant, nearest, reflect, wrap, got 'edge'"):
        ImageDataGenerator(fill_mode="edge")
    with pytest.raises(ValueError, match=r"`validation_split` must be in \[0, 1\), got 1"):
        ImageDataGenerator(validation_split=1)
    with pytest.raises(ValueError, match="`zoom_range` must be a float or a pair"):
        ImageDataGenerator(zoom_range=[0.5, 1, 2])
    with pytest.raises(TypeError):
        ImageDataGenerator(rotation=10)
    assert ImageDataGenerator(rotation_range=np.int64(10), zoom_range=np.float32(0.1)).rotation_range == 10.0
