"""The course's data readers, kept importable as `grader.authoring.datasets` for the assignments' tests.

They live in the student package (`dlcourse/datasets.py`), which templates, reference solutions
and the grader all import, so every side reads the data with the same code.
"""
from dlcourse.datasets import (CIFAR10_CLASSES, CIFAR10_URL, MNIST_FILES, MNIST_URL, DataNotFound,  # noqa: F401
                               download_cifar10, download_mnist, find_mnist_dir, load_cifar10, load_csv_series,
                               load_digits, load_mnist, load_st_har, read_idx, synthetic_daily_series)
