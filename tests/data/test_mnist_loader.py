"""MNIST IDX loader (ltjax.data.mnist) and a tiny end-to-end run of the mnist_ff_loss experiment."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from ltjax.data.mnist import ENV_VAR, load_mnist, read_idx, standardize
from ltjax.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared/data/mnist"
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared MNIST data not found at {SHARED}")


def _idx(magic: int, shape, data: bytes | None = None) -> bytes:
    n = int(np.prod(shape))
    head = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in shape)
    return head + (data if data is not None else bytes(range(256)) * (n // 256) + bytes(n % 256))


def _write_set(d: Path, n=5, gz=True, stem="t10k"):
    imgs = _idx(2051, (n, 28, 28))
    labs = _idx(2049, (n,), bytes([i % 10 for i in range(n)]))
    for name, raw in ((f"{stem}-images-idx3-ubyte", imgs), (f"{stem}-labels-idx1-ubyte", labs)):
        if gz:
            with gzip.open(d / (name + ".gz"), "wb") as f:
                f.write(raw)
        else:
            (d / name).write_bytes(raw)


@needs_data
def test_shared_files_load():
    x, y = load_mnist("train", SHARED)
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8 and y.shape == (10_000,)
    # class counts of the first 10k official training labels (README of the data set)
    np.testing.assert_array_equal(np.bincount(y, minlength=10),
                                  [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    xt, yt = load_mnist("test", SHARED)
    assert xt.shape == (10_000, 28, 28) and yt.shape == (10_000,)
    xs = standardize(x[:100])
    assert xs.shape == (100, 784) and xs.dtype == np.float32
    np.testing.assert_allclose(xs.min(), (0 - 0.1307) / 0.3081, rtol=1e-6)


def test_raw_and_gz_and_env(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _write_set(tmp_path / "a", gz=True)
    _write_set(tmp_path / "b", gz=False)
    xa, ya = load_mnist("test", tmp_path / "a")
    xb, yb = load_mnist("test", str(tmp_path / "b"))
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, [0, 1, 2, 3, 4])
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "a"))
    np.testing.assert_array_equal(load_mnist("test", "")[1], ya)
    assert load_mnist("test", None, n=3)[0].shape == (3, 28, 28)


def test_missing_dir_and_files(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(InputError, match="no MNIST directory given"):
        load_mnist("train")
    with pytest.raises(InputError, match="not a directory"):
        load_mnist("train", tmp_path / "nope")
    with pytest.raises(InputError, match=r"t10k-images-idx3-ubyte\[.gz\]: file not found"):
        load_mnist("test", tmp_path)
    _write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte"):
        load_mnist("test", tmp_path)


def test_truncated_and_wrong_magic(tmp_path):
    _write_set(tmp_path, n=4)
    img = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(img.read_bytes())
    # truncated data (valid gzip of a short IDX)
    img.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(InputError, match=f"{img}: truncated or padded"):
        load_mnist("test", tmp_path)
    # truncated gzip stream
    img.write_bytes(gzip.compress(raw)[:40])
    with pytest.raises(InputError, match=f"{img}: unreadable or truncated gzip"):
        load_mnist("test", tmp_path)
    # header only partly there
    img.write_bytes(gzip.compress(raw[:6]))
    with pytest.raises(InputError, match="truncated"):
        load_mnist("test", tmp_path)
    # wrong magic: a labels file where images are expected
    img.write_bytes(gzip.compress(_idx(2049, (4,), bytes(4))))
    with pytest.raises(InputError, match="wrong magic number 0x00000801"):
        load_mnist("test", tmp_path)
    # not gzip at all
    img.write_bytes(b"hello world, not gzip")
    with pytest.raises(InputError, match=str(img)):
        load_mnist("test", tmp_path)
    # every message is one line naming the file
    try:
        read_idx(img, 2051)
    except InputError as e:
        assert "\n" not in str(e) and str(img) in str(e)


def test_count_mismatch_and_too_many(tmp_path):
    _write_set(tmp_path, n=4)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(_idx(2049, (3,), bytes(3)))
    with pytest.raises(InputError, match="3 labels for 4 images"):
        load_mnist("test", tmp_path)
    _write_set(tmp_path, n=4)
    with pytest.raises(InputError, match="asked for 9 samples"):
        load_mnist("test", tmp_path, n=9)


@needs_data
def test_experiment_tiny_run(tmp_path):
    """End to end on real data with a tiny model: metrics present, finite, and the plot renders."""
    import jax

    from ltjax.experiments.mnist_ff_loss import MnistFfLossParams, mnist_ff_loss
    from ltjax.params import build
    from ltjax.plotting.mnist_ff_loss import plot_mnist_ff_loss, write_readme

    p = build(MnistFfLossParams, dict(replicate=0, loss="quadratic", goodness="mean", steps_per_layer=3, lr=0.03,
                                      threshold=2.0, sizes=[784, 16, 16], n_train=200, normalize=True,
                                      data_dir=str(SHARED)))
    out = mnist_ff_loss(jax.random.key(0), p)
    for k in ("test_accuracy", "train_accuracy", "test_accuracy_sum", "final_loss_l1", "final_loss_l2", "wall_s"):
        assert np.isfinite(out[k])
    assert 0.0 <= out["test_accuracy"] <= 1.0
    assert out["loss_curve_l1"].shape == (3,)
    # plot from a hand-written result directory
    rows = [dict(point=i, replicate=i // 2, loss=("softplus", "quadratic")[i % 2], test_accuracy=0.9 + 0.01 * i,
                 test_accuracy_sum=0.9, train_accuracy=0.95, final_loss_l1=0.1, final_loss_l2=0.2, train_s=1.0)
            for i in range(4)]
    cols = list(rows[0])
    (tmp_path / "data.csv").write_text(
        ",".join(cols) + "\n" + "".join(",".join(str(r[c]) for c in cols) + "\n" for r in rows))
    np.savez(tmp_path / "series.npz", **{f"p{i:05d}/loss_curve_l{l}": np.linspace(1, 0, 5)
                                         for i in range(4) for l in (1, 2)})
    paths = plot_mnist_ff_loss(tmp_path)
    assert all(Path(q).is_file() for q in paths) and len(paths) == 2
    readme = write_readme(tmp_path)[0].read_text()
    assert "| softplus | 2 | 91.00 ± 1.41 |" in readme and "93.74" in readme


def test_data_dir_not_required_when_env_set(tmp_path, monkeypatch):
    _write_set(tmp_path)
    monkeypatch.setenv(ENV_VAR, os.fspath(tmp_path))
    assert load_mnist("test")[0].shape[0] == 5


def _no_block(fn, *args):
    """``fn(*args)`` in a daemon thread: a call that blocks (a FIFO opened) fails the test
    after 10 s instead of hanging the suite."""
    import concurrent.futures
    import threading

    result = concurrent.futures.Future()

    def settle():
        try:
            result.set_result(fn(*args))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            result.set_exception(e)

    threading.Thread(target=settle, daemon=True).start()
    return result.result(timeout=10)


def test_size_limits_gzip_bomb_and_header_overflow(tmp_path):
    """Nothing is read past the cap: a header announcing too much is refused before its data is
    read, and a short header followed by a decompression bomb is refused as padded."""
    big = tmp_path / "big-idx3-ubyte.gz"
    big.write_bytes(gzip.compress(_idx(2051, (4, 28, 28))))
    with pytest.raises(InputError, match=r"header says \(4, 28, 28\) = 3136 bytes of data, more than the 1000-byte"):
        read_idx(big, 2051, max_bytes=1000)
    overflow = tmp_path / "overflow-idx3-ubyte"  # 2^96 bytes: would overflow int64 in np.prod
    overflow.write_bytes((2051).to_bytes(4, "big") + (2**32 - 1).to_bytes(4, "big") * 3)
    with pytest.raises(InputError, match=r"\(4294967295, 4294967295, 4294967295\) = 79228162458924105385300197375"):
        read_idx(overflow, 2051)
    bomb = tmp_path / "bomb-idx1-ubyte.gz"  # 12 labels, then 64 MiB of zeros (64 KiB compressed)
    bomb.write_bytes(gzip.compress(_idx(2049, (12,), bytes(12)) + bytes(64 * 2**20), compresslevel=1))
    assert bomb.stat().st_size < 2**20
    with pytest.raises(InputError, match=f"{bomb}: truncated or padded: header says \\(12,\\) = 12 bytes of data, "
                                         "file has more"):
        read_idx(bomb, 2049)
    padded = tmp_path / "padded-idx1-ubyte"
    padded.write_bytes(_idx(2049, (3,), bytes(3)) + b"xx")
    with pytest.raises(InputError, match="padded"):
        read_idx(padded, 2049)


def test_only_regular_files_are_opened(tmp_path):
    _write_set(tmp_path, n=4)
    img = tmp_path / "t10k-images-idx3-ubyte.gz"
    img.unlink()
    os.mkfifo(img)  # opening a FIFO would block forever
    with pytest.raises(InputError, match=f"{img}: not a regular file"):
        _no_block(load_mnist, "test", tmp_path)
    img.unlink()
    img.mkdir()
    with pytest.raises(InputError, match=f"{img}: is a directory"):
        load_mnist("test", tmp_path)
    with pytest.raises(InputError, match="not a regular file"):
        _no_block(read_idx, "/dev/zero", 2051)
