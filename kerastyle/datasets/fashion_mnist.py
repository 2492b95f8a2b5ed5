"""Fashion-MNIST (Zalando article images), in the format of ``keras.datasets.fashion_mnist``.

Files are looked up locally first (``path=``, ``$KERASTYLE_DATA/fashion-mnist``,
the cache, Debian's ``/usr/share/datasets/fashion-mnist``) and downloaded
through torchvision only as a last resort; see :mod:`kerastyle.datasets._files`.
"""

from __future__ import annotations

from kerastyle.datasets._files import IdxDatasetSpec, load_idx

SPEC = IdxDatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    torchvision_class="FashionMNIST",
    # Installed by Debian's dataset-fashion-mnist package.
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

#: Label ``i`` names class ``CLASS_NAMES[i]``.
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def load_data(path=None):
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images, 10 classes.

    Args:
        path: optional folder holding the four standard IDX files
            (``train-images-idx3-ubyte`` etc., plain or ``.gz``). Searched first.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape
        ``(n, 28, 28)`` and uint8 labels of shape ``(n,)``; see :data:`CLASS_NAMES`.

    Raises:
        DatasetNotFoundError: nothing complete found and no download possible;
            the message lists every folder searched and the missing files.
        InvalidDatasetFileError: a file was found but is not valid IDX data.
    """
    result = load_idx(SPEC, ("train", "test"), path=path)
    return result.splits["train"], result.splits["test"]
