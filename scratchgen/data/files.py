"""Datasets read from files: the user's .npy/.npz/text files, and MNIST-family IDX files.

The IDX datasets are looked up in ``$SCRATCHGEN_DATA`` (default ``~/.cache/scratchgen``), in a
folder per dataset; each decompressed file is checked against its published sha256, and a
missing file is downloaded when a network is there.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from scratchgen.data.array_files import ArrayFileError, read_arrays
from scratchgen.data.dataset import DataInfo, Dataset, from_array

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# sha256 of the decompressed IDX files, as published with the datasets
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",  # noqa: E501
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",  # noqa: E501
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",  # noqa: E501
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",  # noqa: E501
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",  # noqa: E501
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",  # noqa: E501
    },
}
BINARIZED_MNIST_SHA256 = "350243cb824d66d022e0c3e87cac231231668817ff03f5f6d7b6533017d56b4b"
MIRRORS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


class DataError(Exception):
    """A dataset file is missing, corrupt or malformed (the message says which and why)."""


def data_dir() -> Path:
    return Path(os.environ.get("SCRATCHGEN_DATA", Path.home() / ".cache" / "scratchgen"))


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (gzip or plain): magic 0x0000TTNN, NN big-endian uint32 dims, then data."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header is truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: IDX data holds {len(raw) - header} bytes, its header says {expected}"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    return None


def _download(url: str, target: Path) -> None:
    """Fetch to a temporary file, then rename: a failed download leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                shutil.copyfileobj(response, tmp)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.replace(tmp.name, target)


def idx_file(dataset: str, stem: str, download: bool = True) -> np.ndarray:
    """One verified IDX array of an MNIST-family dataset."""
    folder = data_dir() / dataset
    path = _find(folder, stem)
    if path is None and download:
        try:
            _download(MIRRORS[dataset] + stem + ".gz", folder / f"{stem}.gz")
            path = folder / f"{stem}.gz"
        except Exception as error:  # no network, a proxy, a 404: one message for all
            raise DataError(
                f"{dataset}: {stem}.gz is not in {folder} and could not be downloaded "
                f"({type(error).__name__}); put the file there or point SCRATCHGEN_DATA at a "
                "folder holding it"
            ) from None
    if path is None:
        raise DataError(f"{dataset}: {stem}(.gz) is not in {folder}")
    digest = hashlib.sha256(_read_bytes(path)).hexdigest()
    expected = CHECKSUMS[dataset][stem]
    if digest != expected:
        raise DataError(
            f"{path}: sha256 {digest[:16]}... does not match the published {expected[:16]}..."
        )
    return read_idx(path)


def mnist_family(dataset: str) -> Dataset:
    """MNIST or Fashion-MNIST: (1, 28, 28) images with 256 grey levels, and labels."""
    train = idx_file(dataset, "train-images-idx3-ubyte")[:, None].astype(np.int64)
    test = idx_file(dataset, "t10k-images-idx3-ubyte")[:, None].astype(np.int64)
    return Dataset(
        dataset,
        train,
        test,
        DataInfo((1, 28, 28), "categorical", 256),
        idx_file(dataset, "train-labels-idx1-ubyte").astype(np.int64),
        idx_file(dataset, "t10k-labels-idx1-ubyte").astype(np.int64),
    )


def binarized_mnist() -> Dataset:
    """The fixed binarization of Larochelle & Murray (2011): 50k train (the 10k validation set
    is kept in ``extras``), 10k test, (1, 28, 28) binary."""
    path = data_dir() / "mnist" / "binarized" / "binarized_mnist.npz"
    if not path.exists():
        raise DataError(f"binarized_mnist: {path} is missing (it has no download mirror)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != BINARIZED_MNIST_SHA256:
        raise DataError(f"{path}: sha256 does not match the published file")
    with np.load(path, allow_pickle=False) as arrays:
        split = {
            k: arrays[k].reshape(-1, 1, 28, 28).astype(np.int64) for k in ("train", "valid", "test")
        }
    return Dataset(
        "binarized_mnist",
        split["train"],
        split["test"],
        DataInfo((1, 28, 28), "binary"),
        extras={"valid": split["valid"]},
    )


def load_array_file(path: Path) -> Dataset:
    """A .npy file, or a .npz holding ``train`` (and optionally ``test``) or a single array."""
    try:
        arrays = read_arrays(path)
    except ArrayFileError as error:
        raise DataError(str(error)) from None
    if isinstance(arrays, np.ndarray):
        return from_array(arrays, name=path.name)
    if "train" in arrays:
        full = from_array(arrays["train"], name=path.name)
        if "test" in arrays:
            test = arrays["test"]
            if test.shape[1:] != full.info.shape:
                raise DataError(f"{path}: test examples have shape {test.shape[1:]}, train "
                                f"examples {full.info.shape}")  # fmt: skip
            return Dataset(path.name, arrays["train"], test, full.info)
        return full
    if len(arrays) == 1:
        return from_array(next(iter(arrays.values())), name=path.name)
    raise DataError(
        f"{path}: a .npz needs an array named 'train' (and optionally 'test'), has {sorted(arrays)}"
    )
