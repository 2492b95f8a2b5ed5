"""``keras.preprocessing.image`` of Keras 2: ``ImageDataGenerator`` and the PIL helpers.

Images are channels-last arrays as in Keras (``(n, height, width, channels)``). The random
affine transform (rotation, shifts, shear, zoom) is Keras 2's: for output pixel ``(r, c)``
the input is read at ``M @ (r, c)`` with ``M = rotation . shift . shear . zoom`` about the
image centre, sampled bilinearly (``interpolation_order=1``) with Keras's ``fill_mode``.
It runs for a whole batch at once through torch's ``affine_grid``-style sampling
(``grid_sample``), because torchvision's ``affine`` takes one isotropic scale and fills with
a constant only, while Keras draws the two zoom factors independently and defaults to
``fill_mode='nearest'``; flips use torchvision's ``transforms.v2.functional``. The
``height_shift_range`` moves rows and ``width_shift_range`` columns, as Keras 2 documents.

The iterators returned by ``flow`` and ``flow_from_directory`` are :class:`~kerastyle.utils.PyDataset`
objects (``len``, ``[index]``, ``on_epoch_end``) and also plain Python iterators (``next(it)``
loops over epochs forever, as Keras 2's generators did). Given ``seed``, an epoch's order and
every batch's random transforms depend only on ``(seed, epoch, batch index)``.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch

from kerastyle.utils.py_dataset import PyDataset

_FILL_MODES = ("constant", "nearest", "reflect", "wrap")
_CLASS_MODES = ("categorical", "binary", "sparse", "input", None)
_COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
_WHITE_LIST = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow comes with torchvision
        raise ImportError("Image loading needs the package pillow (installed with torchvision): "
                          "pip install pillow") from exc
    return Image


def _resample(interpolation):
    Image = _pil()
    methods = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
               "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}
    if interpolation not in methods:
        raise ValueError(f"argument `interpolation` must be one of {', '.join(methods)}, got {interpolation!r}.")
    return methods[interpolation]


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False,
             grayscale=False):
    """Open an image file as a PIL image in ``color_mode``, resized to ``target_size=(h, w)``."""
    if grayscale:  # Keras 2 spelling
        color_mode = "grayscale"
    if color_mode not in _COLOR_MODES:
        raise ValueError(f"load_img: argument `color_mode` must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}.")
    Image = _pil()
    with open(path, "rb") as fh:
        img = Image.open(fh)
        img.load()
    if img.mode != _COLOR_MODES[color_mode]:
        img = img.convert(_COLOR_MODES[color_mode])
    if target_size is not None:
        height, width = (int(v) for v in target_size)
        if img.size != (width, height):
            if keep_aspect_ratio:  # crop the centre to the target's aspect ratio first
                crop_h = min(img.height, img.width * height // width)
                crop_w = min(img.width, img.height * width // height)
                top, left = (img.height - crop_h) // 2, (img.width - crop_w) // 2
                img = img.crop((left, top, left + crop_w, top + crop_h))
            img = img.resize((width, height), _resample(interpolation))
    return img


def img_to_array(img, data_format=None, dtype=None):
    """PIL image -> float32 array ``(h, w, c)`` (``(c, h, w)`` for ``'channels_first'``)."""
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}.")
    return np.ascontiguousarray(x.transpose(2, 0, 1)) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """Array ``(h, w, c)`` with 1, 3 or 4 channels -> PIL image; ``scale`` maps min..max to 0..255."""
    data_format = _data_format(data_format)
    x = np.asarray(x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(f"array_to_img: argument `x` must be a 3-D image array, got shape {x.shape}.")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x = x / peak
        x = x * 255
    channels = x.shape[2]
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise ValueError(f"array_to_img: images need 1, 3 or 4 channels, got {channels}.")
    pixels = x.astype("uint8")
    return _pil().fromarray(pixels[:, :, 0] if channels == 1 else pixels, modes[channels])


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write an image array to a file through PIL."""
    array_to_img(x, data_format=data_format, scale=scale).save(path, format=file_format, **kwargs)


def _data_format(data_format):
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"argument `data_format` must be 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


def _number(name, value, low=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"ImageDataGenerator: argument `{name}` must be a number, got {value!r}.")
    if low is not None and value < low:
        raise ValueError(f"ImageDataGenerator: argument `{name}` must be >= {low}, got {value!r}.")
    return float(value)


def _shift_spec(name, value):
    """Keras's shift range: a float (fraction if < 1, pixels otherwise), an int, or a list of choices."""
    if isinstance(value, bool):
        raise ValueError(f"ImageDataGenerator: argument `{name}` must be a number or a list of numbers, got {value!r}.")
    if isinstance(value, numbers.Integral):
        value = int(value)
        return ("choice", list(range(-value, value + 1))) if value else None
    if isinstance(value, numbers.Real):
        return ("uniform", float(value)) if value else None
    try:
        choices = [float(v) for v in value]
    except TypeError:
        raise ValueError(f"ImageDataGenerator: argument `{name}` must be a number or a list of numbers, "
                         f"got {value!r}.") from None
    return ("choices", choices) if choices else None


class ImageDataGenerator:
    """Keras 2's real-time image augmentation and normalization.

    Arguments and defaults are Keras 2's: ``rescale`` multiplies after the random transform;
    ``rotation_range`` in degrees; ``width_shift_range``/``height_shift_range`` as a fraction
    of the size (< 1), pixels (>= 1 or an int: whole pixels in ``[-n, n]``) or a list of
    choices; ``zoom_range`` a float ``z`` for ``[1 - z, 1 + z]`` or a pair (values > 1 zoom out);
    ``shear_range`` in degrees; ``fill_mode`` one of constant/nearest/reflect/wrap with ``cval``;
    ``validation_split`` reserves the first fraction of the data for ``subset='validation'``.
    """

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        self.featurewise_center = bool(featurewise_center)
        self.samplewise_center = bool(samplewise_center)
        self.featurewise_std_normalization = bool(featurewise_std_normalization)
        self.samplewise_std_normalization = bool(samplewise_std_normalization)
        self.zca_whitening = bool(zca_whitening)
        self.zca_epsilon = _number("zca_epsilon", zca_epsilon, 0)
        self.rotation_range = _number("rotation_range", rotation_range, 0)
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self._width_shift = _shift_spec("width_shift_range", width_shift_range)
        self._height_shift = _shift_spec("height_shift_range", height_shift_range)
        if brightness_range is not None:
            if isinstance(brightness_range, (str, bytes)) or len(brightness_range) != 2:
                raise ValueError(f"ImageDataGenerator: argument `brightness_range` must be a pair (low, high), "
                                 f"got {brightness_range!r}.")
            brightness_range = tuple(_number("brightness_range", v, 0) for v in brightness_range)
        self.brightness_range = brightness_range
        self.shear_range = _number("shear_range", shear_range, 0)
        if isinstance(zoom_range, numbers.Real) and not isinstance(zoom_range, bool):
            zoom = _number("zoom_range", zoom_range, 0)
            self.zoom_range = (1 - zoom, 1 + zoom)
        elif not isinstance(zoom_range, (str, bytes)) and hasattr(zoom_range, "__len__") and len(zoom_range) == 2:
            self.zoom_range = tuple(_number("zoom_range", v, 0) for v in zoom_range)
        else:
            raise ValueError(f"ImageDataGenerator: argument `zoom_range` must be a float or a pair [low, high], "
                             f"got {zoom_range!r}.")
        self.channel_shift_range = _number("channel_shift_range", channel_shift_range, 0)
        if fill_mode not in _FILL_MODES:
            raise ValueError(f"ImageDataGenerator: argument `fill_mode` must be one of {', '.join(_FILL_MODES)}, "
                             f"got {fill_mode!r}.")
        self.fill_mode = fill_mode
        self.cval = _number("cval", cval)
        self.horizontal_flip, self.vertical_flip = bool(horizontal_flip), bool(vertical_flip)
        self.rescale = None if rescale is None else _number("rescale", rescale)
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise ValueError(f"ImageDataGenerator: argument `preprocessing_function` must be a function, "
                             f"got {preprocessing_function!r}.")
        self.preprocessing_function = preprocessing_function
        self.data_format = _data_format(data_format)
        self.validation_split = _number("validation_split", validation_split, 0)
        if not self.validation_split < 1:
            raise ValueError(f"ImageDataGenerator: argument `validation_split` must be in [0, 1), "
                             f"got {validation_split!r}.")
        if interpolation_order not in (0, 1):
            raise ValueError(f"ImageDataGenerator: argument `interpolation_order` must be 0 (nearest) or 1 "
                             f"(bilinear), got {interpolation_order!r}.")
        self.interpolation_order = interpolation_order
        self.dtype = np.dtype(dtype or "float32")
        self.mean = self.std = self.principal_components = None
        axes = (0, 1, 2) if self.data_format == "channels_last" else (0, 2, 3)
        last = self.data_format == "channels_last"
        self.channel_axis, self.row_axis, self.col_axis = (3, 1, 2) if last else (1, 2, 3)
        self._stat_axes = axes

    # -- statistics -----------------------------------------------------------

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the dataset statistics that featurewise normalization and ZCA whitening use."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.fit: argument `x` must be 4-D (n, height, width, channels), "
                             f"got shape {x.shape}.")
        if augment:
            rng = np.random.default_rng(seed)
            x = np.concatenate([self._transform_batch(x, rng) for _ in range(int(rounds))])
        if self.rescale:
            x = x * self.rescale
        shape = [1, 1, 1]
        shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.mean(x, axis=self._stat_axes).reshape(shape)
            x = x - self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=self._stat_axes).reshape(shape)
            x = x / (self.std + 1e-6)
        if self.zca_whitening:
            flat = x.reshape(x.shape[0], -1)
            sigma = flat.T @ flat / flat.shape[0]
            u, s, _ = np.linalg.svd(sigma)
            self.principal_components = (u * (1.0 / np.sqrt(s[None] + self.zca_epsilon))) @ u.T

    def standardize(self, x):
        """Normalize one image or a batch in place of Keras's order: function, rescale, sample, feature, ZCA."""
        x = np.asarray(x, dtype=self.dtype)
        if self.preprocessing_function is not None:
            x = np.asarray(self.preprocessing_function(x), dtype=self.dtype)
        if self.rescale:
            x = x * self.rescale
        per_image = tuple(range(x.ndim - 3, x.ndim))  # each image's own statistics, as Keras
        if self.samplewise_center:
            x = x - np.mean(x, axis=per_image, keepdims=True)
        if self.samplewise_std_normalization:
            x = x / (np.std(x, axis=per_image, keepdims=True) + 1e-6)
        if self.featurewise_center:
            if self.mean is None:
                raise ValueError("ImageDataGenerator: featurewise_center=True needs statistics; call .fit(x_train) "
                                 "first.")
            x = x - self.mean
        if self.featurewise_std_normalization:
            if self.std is None:
                raise ValueError("ImageDataGenerator: featurewise_std_normalization=True needs statistics; call "
                                 ".fit(x_train) first.")
            x = x / (self.std + 1e-6)
        if self.zca_whitening:
            if self.principal_components is None:
                raise ValueError("ImageDataGenerator: zca_whitening=True needs statistics; call .fit(x_train) first.")
            x = (x.reshape(-1, self.principal_components.shape[0]) @ self.principal_components).reshape(x.shape)
        return x.astype(self.dtype, copy=False)

    # -- random transforms ----------------------------------------------------

    def _draw_shift(self, spec, size, rng):
        if spec is None:
            return 0.0
        kind, value = spec
        if kind == "uniform":
            shift = rng.uniform(-value, value)
            return shift * size if value < 1 else shift
        shift = float(rng.choice(value))
        if kind == "choices":
            shift *= rng.choice([-1, 1])
            return shift * size if max(value) < 1 else shift
        return shift

    def get_random_transform(self, img_shape, seed=None):
        """Random parameters for one image of shape ``img_shape`` (a dict, as Keras returns)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        rows, cols = (img_shape[0], img_shape[1]) if self.data_format == "channels_last" else img_shape[1:3]
        zx, zy = (1.0, 1.0) if self.zoom_range == (1, 1) else tuple(rng.uniform(*self.zoom_range, size=2))
        return {
            "theta": rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0.0,
            "tx": self._draw_shift(self._height_shift, rows, rng),
            "ty": self._draw_shift(self._width_shift, cols, rng),
            "shear": rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0.0,
            "zx": float(zx),
            "zy": float(zy),
            "flip_horizontal": bool(self.horizontal_flip and rng.random() < 0.5),
            "flip_vertical": bool(self.vertical_flip and rng.random() < 0.5),
            "channel_shift_intensity": (rng.uniform(-self.channel_shift_range, self.channel_shift_range)
                                        if self.channel_shift_range else None),
            "brightness": rng.uniform(*self.brightness_range) if self.brightness_range else None,
        }

    def apply_transform(self, x, transform_parameters):
        """Apply the parameters of :meth:`get_random_transform` to one image."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3:
            raise ValueError(f"ImageDataGenerator.apply_transform: argument `x` must be one 3-D image, "
                             f"got shape {x.shape}.")
        return self._apply_batch(x[None], [transform_parameters])[0]

    def random_transform(self, x, seed=None):
        """One image, randomly transformed (``seed`` makes it reproducible)."""
        x = np.asarray(x, dtype=self.dtype)
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def _transform_batch(self, x, rng):
        return self._apply_batch(x, [self.get_random_transform(x.shape[1:], rng) for _ in range(len(x))])

    def _apply_batch(self, x, params):
        """Transform a batch ``x`` (Keras layout) with one parameter dict per image."""
        import torchvision.transforms.v2.functional as TF

        images = torch.tensor(np.asarray(x, dtype=np.float32))  # a copy: the input is never modified
        if self.data_format == "channels_last":
            images = images.permute(0, 3, 1, 2)
        n, channels, rows, cols = images.shape
        matrices = [_affine_matrix(p, rows, cols) for p in params]
        moving = [i for i, m in enumerate(matrices) if m is not None]
        if moving:
            images = images.clone()
            images[moving] = _warp(images[moving], np.stack([matrices[i] for i in moving]), self.fill_mode,
                                   self.cval, self.interpolation_order)
        out = images
        for i, p in enumerate(params):
            image = out[i]
            if p.get("channel_shift_intensity") is not None:
                low, high = image.min(), image.max()
                image = torch.clamp(image + float(p["channel_shift_intensity"]), low, high)
            if p.get("flip_horizontal"):
                image = TF.horizontal_flip(image)
            if p.get("flip_vertical"):
                image = TF.vertical_flip(image)
            if p.get("brightness") is not None:
                image = torch.clamp(image * float(p["brightness"]), 0, 255)
            out[i] = image
        if self.data_format == "channels_last":
            out = out.permute(0, 2, 3, 1)
        return out.numpy().astype(self.dtype, copy=False)

    # -- iterators ------------------------------------------------------------

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        """Batches of augmented images from arrays: ``(x, y)``, ``x`` alone, or ``(x, y, sample_weight)``."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                  save_format=save_format, ignore_class_split=ignore_class_split, subset=subset)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix="", save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """Batches from a folder with one sub-folder per class (sorted names give the class indices)."""
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format,
                                 follow_links=follow_links, subset=subset, interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio)


def _affine_matrix(p, rows, cols):
    """Keras 2's 3x3 matrix mapping output (row, col) to input (row, col), or None for identity."""
    matrix = np.eye(3)
    changed = False
    theta = np.deg2rad(p.get("theta", 0) or 0)
    if theta:
        matrix = matrix @ np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
        changed = True
    tx, ty = p.get("tx", 0) or 0, p.get("ty", 0) or 0
    if tx or ty:
        matrix = matrix @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
        changed = True
    shear = np.deg2rad(p.get("shear", 0) or 0)
    if shear:
        matrix = matrix @ np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
        changed = True
    zx, zy = p.get("zx", 1), p.get("zy", 1)
    if zx != 1 or zy != 1:
        matrix = matrix @ np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
        changed = True
    if not changed:
        return None
    centre_r, centre_c = rows / 2 - 0.5, cols / 2 - 0.5
    to_centre = np.array([[1, 0, centre_r], [0, 1, centre_c], [0, 0, 1]])
    from_centre = np.array([[1, 0, -centre_r], [0, 1, -centre_c], [0, 0, 1]])
    return to_centre @ matrix @ from_centre


def _warp(images, matrices, fill_mode, cval, order):
    """Sample ``images`` (n, c, h, w) at ``matrices @ (r, c, 1)`` with Keras's fill modes."""
    n, _, rows, cols = images.shape
    grid_r, grid_c = torch.meshgrid(torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64),
                                    indexing="ij")
    coords = torch.stack([grid_r, grid_c, torch.ones_like(grid_r)]).reshape(3, -1)
    src = torch.from_numpy(matrices) @ coords  # (n, 3, rows*cols)
    src_r, src_c = src[:, 0].reshape(n, rows, cols), src[:, 1].reshape(n, rows, cols)
    if fill_mode == "wrap":
        src_r, src_c = torch.remainder(src_r + 0.5, rows) - 0.5, torch.remainder(src_c + 0.5, cols) - 0.5
    # align_corners=False: pixel i spans [i - 0.5, i + 0.5]; reflection is then about the outer edges.
    grid = torch.stack([(2 * src_c + 1) / cols - 1, (2 * src_r + 1) / rows - 1], dim=-1).to(images.dtype)
    padding = {"nearest": "border", "reflect": "reflection", "wrap": "border", "constant": "border"}[fill_mode]
    mode = "bilinear" if order == 1 else "nearest"
    out = torch.nn.functional.grid_sample(images, grid, mode=mode, padding_mode=padding, align_corners=False)
    if fill_mode == "constant":
        # As scipy's mode='constant' (Keras's backend): a point outside the outermost pixel centres is
        # cval, with no blending of cval into the border pixels.
        eps = 1e-9
        outside = (src_r < -eps) | (src_r > rows - 1 + eps) | (src_c < -eps) | (src_c > cols - 1 + eps)
        out = torch.where(outside[:, None], torch.as_tensor(cval, dtype=out.dtype), out)
    return out


class _BatchIterator(PyDataset):
    """Shared batching: ``len``, ``[index]``, ``on_epoch_end`` and endless ``next()``."""

    def __init__(self, n, batch_size, shuffle, seed):
        super().__init__()
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"argument `batch_size` must be an integer >= 1, got {batch_size!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"argument `seed` must be None or an integer >= 0, got {seed!r}.")
        self.n, self.batch_size, self.shuffle = n, int(batch_size), bool(shuffle)
        # Without a seed, draw one from numpy's global generator (so set_random_seed makes runs repeatable).
        self.seed = int(seed) if seed is not None else int(np.random.randint(0, 2**31 - 1))
        self.epoch = 0
        self._order = None
        self._cursor = 0

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    @property
    def index_array(self):
        if self._order is None:
            self._order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle
                           else np.arange(self.n))
        return self._order

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"batch index must be an integer, got {index!r}.")
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} is out of range: this iterator has {len(self)} batches.")
        rows = self.index_array[index * self.batch_size:(index + 1) * self.batch_size]
        return self._batch(rows, np.random.default_rng([self.seed, self.epoch, int(index)]))

    def on_epoch_end(self):
        self.epoch += 1
        self._order = None

    def reset(self):
        """Start again from the first batch of the current epoch."""
        self._cursor = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._cursor >= len(self):
            self.on_epoch_end()
            self._cursor = 0
        batch = self[self._cursor]
        self._cursor += 1
        return batch

    next = __next__

    def _batch(self, rows, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _save(self, batch_x, rng, save_to_dir, save_prefix, save_format, generator):
        if not save_to_dir:
            return
        for i, image in enumerate(batch_x):
            name = f"{save_prefix}_{self.epoch}_{i}_{int(rng.integers(1_000_000))}.{save_format}"
            save_img(os.path.join(save_to_dir, name), image, data_format=generator.data_format, scale=True)


class NumpyArrayIterator(_BatchIterator):
    """Batches of ``(x, y[, sample_weight])`` from arrays through an :class:`ImageDataGenerator`."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 save_to_dir=None, save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        generator = image_data_generator
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"flow: argument `x` must be a 4-D array (n, height, width, channels), "
                             f"got shape {x.shape}.")
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(f"flow: `x` and `y` must have the same length, got {len(x)} and {len(y)}.")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if len(sample_weight) != len(x):
                raise ValueError(f"flow: `x` and `sample_weight` must have the same length, got {len(x)} and "
                                 f"{len(sample_weight)}.")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f"flow: argument `subset` must be None, 'training' or 'validation', got {subset!r}.")
            if not generator.validation_split:
                raise ValueError(f"flow: subset={subset!r} needs ImageDataGenerator(validation_split=...) > 0.")
            split = int(len(x) * generator.validation_split)
            if (y is not None and not ignore_class_split
                    and not np.array_equal(np.unique(y[:split]), np.unique(y[split:]))):
                raise ValueError("flow: the training and validation subsets hold different classes after the split "
                                 f"at index {split}; shuffle arrays sorted by label first (or pass "
                                 "ignore_class_split=True).")
            part = slice(None, split) if subset == "validation" else slice(split, None)
            x = x[part]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        channels = x.shape[3 if generator.data_format == "channels_last" else 1]
        if channels not in (1, 3, 4):
            raise ValueError(f"flow: images must have 1, 3 or 4 channels on the channel axis, got shape {x.shape}.")
        self.x = np.asarray(x, dtype=generator.dtype)
        self.y, self.sample_weight = y, sample_weight
        self.image_data_generator = generator
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        super().__init__(len(self.x), batch_size, shuffle, seed)

    def _batch(self, rows, rng):
        generator = self.image_data_generator
        batch_x = generator.standardize(generator._transform_batch(self.x[rows], rng))
        self._save(batch_x, rng, self.save_to_dir, self.save_prefix, self.save_format, generator)
        if self.y is None:
            return batch_x
        if self.sample_weight is None:
            return batch_x, self.y[rows]
        return batch_x, self.y[rows], self.sample_weight[rows]


class DirectoryIterator(_BatchIterator):
    """Batches of images read from ``directory/<class>/<file>``, resized to ``target_size``.

    Attributes (as Keras): ``classes`` (class index per file), ``class_indices`` (name ->
    index), ``filenames`` (relative paths), ``filepaths``, ``samples``, ``num_classes``.
    """

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                 save_prefix="", save_format="png", follow_links=False, subset=None, interpolation="nearest",
                 keep_aspect_ratio=False):
        generator = image_data_generator
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"flow_from_directory: argument `directory` {str(directory)!r} is not a folder.")
        if color_mode not in _COLOR_MODES:
            raise ValueError(f"flow_from_directory: argument `color_mode` must be 'grayscale', 'rgb' or 'rgba', "
                             f"got {color_mode!r}.")
        if class_mode not in _CLASS_MODES:
            raise ValueError("flow_from_directory: argument `class_mode` must be 'categorical', 'binary', "
                             f"'sparse', 'input' or None, got {class_mode!r}.")
        if subset not in (None, "training", "validation"):
            raise ValueError(f"flow_from_directory: argument `subset` must be None, 'training' or 'validation', "
                             f"got {subset!r}.")
        _resample(interpolation)
        self.directory, self.image_data_generator = directory, generator
        self.target_size = tuple(int(v) for v in target_size)
        self.color_mode, self.class_mode, self.interpolation = color_mode, class_mode, interpolation
        self.keep_aspect_ratio = keep_aspect_ratio
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[color_mode]
        self.image_shape = ((*self.target_size, channels) if generator.data_format == "channels_last"
                            else (channels, *self.target_size))
        if classes is None:
            classes = sorted(entry.name for entry in directory.iterdir() if entry.is_dir())
        self.class_indices = {name: i for i, name in enumerate(classes)}
        self.num_classes = len(classes)
        if subset is None:
            split = (0.0, 1.0)
        elif subset == "validation":
            split = (0.0, generator.validation_split)
        else:
            split = (generator.validation_split, 1.0)
        filenames, labels = [], []
        for name in classes:
            files = _image_files(directory / name, follow_links)
            start, stop = int(split[0] * len(files)), int(split[1] * len(files))
            for path in files[start:stop]:
                filenames.append(str(path.relative_to(directory)))
                labels.append(self.class_indices[name])
        self.filenames = filenames
        self.filepaths = [str(directory / f) for f in filenames]
        self.classes = np.array(labels, dtype="int32")
        self.samples = len(filenames)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self):
        return self.classes

    def _batch(self, rows, rng):
        generator = self.image_data_generator
        batch_x = np.zeros((len(rows), *self.image_shape), dtype=generator.dtype)
        for i, row in enumerate(rows):
            img = load_img(self.filepaths[row], color_mode=self.color_mode, target_size=self.target_size,
                           interpolation=self.interpolation, keep_aspect_ratio=self.keep_aspect_ratio)
            batch_x[i] = img_to_array(img, data_format=generator.data_format)
        batch_x = generator.standardize(generator._transform_batch(batch_x, rng))
        self._save(batch_x, rng, self.save_to_dir, self.save_prefix, self.save_format, generator)
        if self.class_mode == "input":
            return batch_x, batch_x.copy()
        if self.class_mode is None:
            return batch_x
        labels = self.classes[rows]
        if self.class_mode == "categorical":
            batch_y = np.zeros((len(rows), self.num_classes), dtype=generator.dtype)
            batch_y[np.arange(len(rows)), labels] = 1
            return batch_x, batch_y
        return batch_x, labels.astype(generator.dtype)


def _image_files(folder, follow_links):
    """Image files below ``folder`` in Keras's order: folders walked in sorted order, names sorted."""
    found = []
    for root, _dirs, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(_WHITE_LIST):
                found.append(Path(root) / name)
    return found


__all__ = ["DirectoryIterator", "ImageDataGenerator", "NumpyArrayIterator", "array_to_img", "img_to_array",
           "load_img", "save_img"]
