"""Safe file I/O shared by run folders, models and checkpoints.

- :func:`atomic_open` writes through a unique temporary file in the target's folder
  (``tempfile``), fsyncs it and renames it into place, so a crash never leaves a
  half-written file and two writers never share a temporary name. The folder itself is
  not fsynced: after a power loss a rename may be lost, which leaves the previous complete
  file (for a checkpoint: an earlier, consistent generation).
- :class:`NpzReader` reads ``.npz`` files written by gabp without trusting them: no pickle,
  every member's declared size and ``.npy`` header (dtype, shape) is checked before its
  data is read, so a zip bomb or a header claiming 10^11 floats is refused cheaply.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from typing import IO, Any

import numpy as np

#: Prefix and suffix of every temporary file gabp writes (see :func:`remove_temporaries`).
TMP_PREFIX, TMP_SUFFIX = ".gabp-", ".tmp"
#: A member may hold at most this many times the bytes of the whole file on disk. gabp
#: writes uncompressed members (ratio <= 1); this leaves room for compressed archives
#: made by others while refusing decompression bombs.
MAX_EXPANSION = 20


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a unique temporary file next to ``path``; on success fsync and rename it.

    Parameters
    ----------
    path : path
        Final file name.
    mode : {"wb", "w"}
        Binary, or text (UTF-8, no newline translation).

    Yields
    ------
    file object
        Write into it; if the block raises, the temporary is removed and ``path`` is
        left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + os.path.basename(path) + ".",
                               suffix=TMP_SUFFIX, dir=folder)
    try:
        kw: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_temporaries(folder: str | os.PathLike) -> list[str]:
    """Delete temporaries left in ``folder`` by a killed writer; returns their names."""
    folder = os.fspath(folder)
    gone = []
    for name in os.listdir(folder):
        if (name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX)) or name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
                gone.append(name)
    return gone


class NpzReader:
    """Bounded reader of an ``.npz`` archive (use as a context manager).

    Parameters
    ----------
    path : path
        The archive.
    what : str
        What the file should be ("gabp model", "checkpoint"), for messages.

    Every failure (not a zip file, truncated, missing or oversize member, wrong dtype or
    shape) raises ``ValueError`` naming the file.
    """

    def __init__(self, path: str | os.PathLike, what: str) -> None:
        self.path, self.what = os.fspath(path), what
        try:
            self.size = os.path.getsize(self.path)
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise self.error(f"not a readable .npz archive ({exc})") from None

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.zip.close()

    def error(self, message: str) -> ValueError:
        """A ``ValueError`` naming the file and what it should be."""
        return ValueError(f"{self.path} is not a valid {self.what}: {message}.")

    def names(self) -> list[str]:
        """Array names in the archive (``.npy`` suffix removed)."""
        return [n[:-4] for n in self.zip.namelist() if n.endswith(".npy")]

    def read(self, name: str, *, dtypes: Sequence[str] = ("float64", "float32"),
             shape: Sequence[int | None] | None = None, max_bytes: int | None = None
             ) -> np.ndarray:
        """Read array ``name`` after checking its header.

        Parameters
        ----------
        dtypes : sequence of str
            Accepted dtype names (``"U"`` accepts any unicode string dtype).
        shape : sequence of int or None, optional
            Expected shape; ``None`` entries accept any length on that axis.
        max_bytes : int, optional
            Largest accepted data size.
        """
        try:
            info = self.zip.getinfo(name + ".npy")
        except KeyError:
            raise self.error(f"the array '{name}' is missing") from None
        limit = MAX_EXPANSION * max(self.size, 1)
        if info.file_size > limit:
            raise self.error(f"the member '{name}' declares {info.file_size} bytes, more than "
                             f"{MAX_EXPANSION} times the file's size")
        try:
            with self.zip.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                got_shape, fortran, dtype = read_header(fh)
                self._check_header(name, got_shape, dtype, dtypes, shape, max_bytes,
                                   info.file_size)
                count = int(np.prod(got_shape, dtype=np.int64))
                data = fh.read(count * dtype.itemsize)
        except ValueError as exc:
            if str(exc).startswith(self.path):
                raise
            raise self.error(f"the array '{name}' is damaged ({exc})") from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise self.error(f"the array '{name}' is damaged ({exc})") from None
        if len(data) != count * dtype.itemsize:
            raise self.error(f"the array '{name}' is truncated")
        arr = np.frombuffer(data, dtype=dtype, count=count)
        return arr.reshape(got_shape, order="F" if fortran else "C").copy()

    def _check_header(self, name, got_shape, dtype, dtypes, shape, max_bytes, member_size):
        if dtype.hasobject:
            raise self.error(f"the array '{name}' holds Python objects (refused: no pickle)")
        ok = dtype.name in dtypes or ("U" in dtypes and dtype.kind == "U")
        if not ok:
            raise self.error(f"the array '{name}' has dtype {dtype}, expected "
                             f"{' or '.join(dtypes)}")
        if shape is not None and (len(got_shape) != len(shape) or any(
                want is not None and want != got for want, got in zip(shape, got_shape,
                                                                      strict=True))):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise self.error(f"the array '{name}' has shape {got_shape}, expected {want}")
        n_bytes = int(np.prod(got_shape, dtype=np.float64)) * dtype.itemsize
        if n_bytes > member_size or (max_bytes is not None and n_bytes > max_bytes):
            raise self.error(f"the array '{name}' declares {n_bytes} bytes of data, more than "
                             "its member holds or than allowed")

    def read_text(self, name: str, *, max_chars: int = 1 << 24) -> str:
        """A 0-d unicode array (JSON metadata) as ``str``, at most ``max_chars`` long."""
        arr = self.read(name, dtypes=("U",), shape=(), max_bytes=4 * max_chars)
        return str(arr[()])
