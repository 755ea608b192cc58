"""minicnn.data: datasets, loaders, transforms and augmentation.

- Keras-style arrays: ``load_mnist``, ``load_fashion_mnist``, ``load_cifar10``,
  ``load_digits`` -> ``(x_train, y_train), (x_test, y_test)``, uint8 NHWC.
- Files: ``download_dataset``, ``find_local_data``, ``data_root``; the IDX
  reader/writer ``read_idx`` / ``write_idx``; the CIFAR readers in ``cifar``.
- torchvision-style: ``datasets.MNIST`` ..., ``ArrayDataset``, ``DataLoader``,
  ``random_split``, ``transforms``.
- Keras-style augmentation: ``ImageAugmenter``; ``preprocessing`` helpers.
"""
from .errors import DatasetError, FormatError
from .paths import data_root, find_local_data, shared_data_dir
from .download import MD5, MIRRORS, CorruptFileWarning, download_dataset
from .idx import read_idx, write_idx
from .loaders import (
    CIFAR10_CLASSES, DIGITS_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES,
    class_names, load_cifar10, load_digits, load_fashion_mnist, load_mnist,
)
from . import transforms
from .datasets import CIFAR10, MNIST, ArrayDataset, Dataset, FashionMNIST, Subset, random_split
from .dataloader import DataLoader
from .augment import ImageAugmenter
from .preprocessing import Standardizer, scale_to_unit, to_categorical

__all__ = [
    "DatasetError", "FormatError", "data_root", "find_local_data", "shared_data_dir",
    "MD5", "MIRRORS", "CorruptFileWarning", "download_dataset", "read_idx", "write_idx",
    "CIFAR10_CLASSES", "DIGITS_CLASSES", "FASHION_MNIST_CLASSES", "MNIST_CLASSES",
    "class_names", "load_cifar10", "load_digits", "load_fashion_mnist", "load_mnist",
    "transforms", "Dataset", "ArrayDataset", "Subset", "MNIST", "FashionMNIST", "CIFAR10",
    "random_split", "DataLoader", "ImageAugmenter",
    "Standardizer", "scale_to_unit", "to_categorical",
]
