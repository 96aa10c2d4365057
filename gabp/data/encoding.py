"""One-hot encoding of class labels that keeps the labels themselves."""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from .._validation import check_array, fail

_KINDS = {"b": "bool", "i": "int", "u": "int", "f": "float", "U": "str", "S": "str"}


def _label_kind(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, numbers.Number):
        return "number"
    if isinstance(v, (str, np.str_)):
        return "string"
    return type(v).__name__


def as_labels(labels: Any, name: str = "labels", where: str = "OneHotEncoder.fit"
              ) -> np.ndarray:
    """Class labels as a NumPy array under one type rule.

    Labels are all numbers, all strings, all booleans, or all of one other hashable type;
    a mix (``[1, 2, "a"]``, which NumPy would silently turn into strings) raises
    ``TypeError``, and so does ``None``. Numbers become an int or float array, strings a
    string array, anything else stays an object array.
    """
    if isinstance(labels, np.ndarray) and labels.dtype.kind != "O":
        return labels
    try:
        obj = np.asarray(labels, dtype=object)
    except (TypeError, ValueError):
        fail(name, where, "a sequence of class labels", labels, exc=TypeError)
    flat = obj.ravel().tolist()
    kinds: dict[str, int] = {}
    for i, v in enumerate(flat):
        if v is None:
            fail(name, where, "class labels, not None", labels, exc=TypeError,
                 hint=f"None at position {i}; drop or fill unlabelled rows first.")
        kinds.setdefault(_label_kind(v), i)
    if len(kinds) > 1:
        (k1, _), (k2, i2) = sorted(kinds.items(), key=lambda kv: kv[1])[:2]
        fail(name, where, "labels of one type (all numbers or all strings)", labels,
             exc=TypeError, hint=f"Found {k1} and {k2} labels (first {k2} at position {i2}); "
             "convert them to one type, e.g. all strings.")
    kind = next(iter(kinds), "number")
    if kind in ("number", "bool"):
        return np.asarray(flat, dtype=None if flat else float).reshape(obj.shape)
    if kind == "string":
        return np.asarray(flat, dtype=str).reshape(obj.shape)
    return obj


def _as_label_array(labels: Any, where: str) -> np.ndarray:
    arr = as_labels(labels, "labels", where)
    if arr.ndim != 1:
        fail("labels", where, "a 1-D sequence of labels", arr)
    if arr.size == 0:
        fail("labels", where, "a non-empty sequence of labels", arr)
    return arr


class OneHotEncoder:
    """Map class labels (ints, floats, strings, any hashable) to one-hot rows and back.

    ``classes_`` is the sorted list of distinct labels seen in :meth:`fit`; column
    ``c`` of the one-hot matrix is ``classes_[c]``.

    Examples
    --------
    >>> enc = OneHotEncoder().fit(["b", "a", "b"])
    >>> enc.transform(["a", "b"]).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    >>> enc.inverse_transform([[0.2, 0.8]]).tolist()
    ['b']
    """

    def __init__(self) -> None:
        self.classes_: np.ndarray | None = None
        self._lookup: dict[Hashable, int] = {}

    @property
    def n_classes(self) -> int:
        """Number of classes (0 before fit)."""
        return 0 if self.classes_ is None else len(self.classes_)

    def _require_fit(self) -> None:
        if self.classes_ is None:
            raise RuntimeError("This OneHotEncoder is not fitted yet. Call fit(labels) first.")

    def fit(self, labels: Sequence[Hashable] | np.ndarray) -> OneHotEncoder:
        """Learn the classes from ``labels`` of shape (n,); returns ``self``."""
        arr = _as_label_array(labels, "OneHotEncoder.fit")
        if arr.dtype.kind == "O":
            try:
                classes = sorted(set(arr.tolist()))
            except TypeError:
                classes = sorted(set(arr.tolist()), key=lambda v: (type(v).__name__, repr(v)))
            out = np.empty(len(classes), dtype=object)
            out[:] = classes
            self.classes_ = out
        else:
            self.classes_ = np.unique(arr)
        self._lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
        return self

    def encode(self, labels: Sequence[Hashable] | np.ndarray) -> np.ndarray:
        """Integer codes of shape (n,) (position of each label in ``classes_``)."""
        self._require_fit()
        arr = _as_label_array(labels, "OneHotEncoder.transform")
        codes = np.empty(arr.shape[0], dtype=np.int64)
        for i, label in enumerate(arr.tolist()):
            code = self._lookup.get(label)
            if code is None:
                fail(
                    "labels",
                    "OneHotEncoder.transform",
                    "labels seen in fit: " + ", ".join(repr(c) for c in self.classes_.tolist()),
                    label,
                    hint=f"Unknown label at position {i}.",
                )
            codes[i] = code
        return codes

    def transform(self, labels: Sequence[Hashable] | np.ndarray) -> np.ndarray:
        """One-hot matrix of shape (n, n_classes), dtype float64."""
        codes = self.encode(labels)
        out = np.zeros((codes.shape[0], self.n_classes))
        out[np.arange(codes.shape[0]), codes] = 1.0
        return out

    def fit_transform(self, labels: Sequence[Hashable] | np.ndarray) -> np.ndarray:
        """``fit(labels)`` then ``transform(labels)``."""
        return self.fit(labels).transform(labels)

    def decode(self, codes: Any) -> np.ndarray:
        """Labels of shape (n,) for integer ``codes`` of shape (n,)."""
        self._require_fit()
        idx = check_array(
            codes, "codes", "OneHotEncoder.decode", ndim=1, dtype=np.int64, min_rows=0
        )
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_classes):
            fail("codes", "OneHotEncoder.decode", f"integers in [0, {self.n_classes - 1}]", idx)
        return self.classes_[idx]

    def inverse_transform(self, scores: Any) -> np.ndarray:
        """Labels of shape (n,) from one-hot rows or class scores of shape (n, n_classes).

        Each row's label is the class with the largest score (first one on ties).
        """
        self._require_fit()
        arr = check_array(scores, "scores", "OneHotEncoder.inverse_transform", ndim=2, min_rows=0)
        if arr.shape[1] != self.n_classes:
            fail(
                "scores",
                "OneHotEncoder.inverse_transform",
                f"an array with {self.n_classes} columns (one per class)",
                arr,
            )
        return self.classes_[np.argmax(arr, axis=1)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description; classes keep their type (int, float, str, bool)."""
        self._require_fit()
        kind = _KINDS.get(self.classes_.dtype.kind, "object")
        classes = self.classes_.tolist()
        if kind == "object":
            kinds = {type(c) for c in classes}
            if kinds <= {str}:
                kind = "str"
            elif kinds <= {int}:
                kind = "int"
            else:
                kind = "mixed"
        return {"type": "OneHotEncoder", "dtype": kind, "classes": classes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OneHotEncoder:
        """Rebuild an encoder saved with :meth:`to_dict`."""
        if not isinstance(data, dict) or data.get("type") != "OneHotEncoder":
            fail("data", "OneHotEncoder.from_dict", "a dict with type 'OneHotEncoder'", data)
        classes = list(data["classes"])
        kind = data.get("dtype", "object")
        numpy_type = {"bool": bool, "int": np.int64, "float": np.float64, "str": str}.get(kind)
        if numpy_type is None:
            arr = np.empty(len(classes), dtype=object)
            arr[:] = classes
        else:
            arr = np.asarray(classes, dtype=numpy_type)
        obj = cls()
        obj.classes_ = arr
        obj._lookup = {c: i for i, c in enumerate(arr.tolist())}
        return obj

    def __repr__(self) -> str:
        if self.classes_ is None:
            return "OneHotEncoder()"
        return f"OneHotEncoder(classes={self.classes_.tolist()!r})"
