"""Layer units of a population of networks: ``Dense``, ``Conv2D``, ``MaxPool2D``, ``Flatten``.

A layer is a small frozen description (JSON-able through :func:`layer_to_dict` /
:func:`layer_from_dict`) that knows, for a given input shape, its output shape, the shape of
its weight block in the flat genome and how to initialize it, and runs the linear part of its
forward and backward pass for all ``P`` networks at once. The network
(:mod:`gabp.network`) owns the loop over layers, the activations and the losses; the GA
never learns that layers differ: every layer's parameters are a ``W`` view of shape
``(P, fan_in, fan_out)`` followed by a ``b`` view of shape ``(P, 1, fan_out)`` in the
``(P, n_params)`` genome (pooling, flattening and reshaping have none).

Shapes. A sample is a flat row of ``n_in`` numbers; :class:`Reshape` views it as an image of
shape ``(C, H, W)`` (row-major, channels first, as :func:`gabp.data.load_digits` and
PyTorch order them). Inside the network images are stored channels-last, ``(P, n, H, W, C)``,
because then a convolution is one matrix product of the im2col patches and the weights with
no transposes; :class:`Flatten` gives rows back in ``(C, H, W)`` order.

Convolution weights. ``W`` of a ``Conv2D`` with ``F`` filters of ``kh x kw`` over ``C``
input channels is ``(P, kh * kw * C, F)``: the entry of kernel row ``i``, column ``j``,
input channel ``c`` and filter ``f`` is at ``((i * kw + j) * C + c) * F + f`` of the layer's
block, then ``F`` biases. A ``1 x 1`` convolution is therefore exactly a dense layer
``(C, F)`` applied to every pixel.

The im2col patches are a strided view copied once per layer and mini-batch into rows that
end with a 1, so one product with the layer's adjacent ``(W; b)`` genome block gives ``z``
(and, backward, ``dL/dW`` with ``dL/db``). The input gradient is itself a stride-1
convolution: of the delta spread out over a zero buffer with the flipped kernel, one more
im2col copy and one product (no loop over pixels, images, networks or kernel taps).
Max-pooling over windows that tile the image is two reductions over reshaped views, without
index arrays (:class:`MaxPool2D`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._validation import check_choice, check_int, fail
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

Shape = tuple[int, ...]


def _pair(value: Any, name: str, where: str, low: int) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            fail(name, where, "an integer or a pair of integers", value)
        return tuple(check_int(v, name, where, low=low) for v in value)  # type: ignore[return-value]
    v = check_int(value, name, where, low=low)
    return (v, v)


def _check_activation(name: str | None, where: str) -> str | None:
    if name is not None:
        check_choice(name, tuple(dict.fromkeys(HIDDEN_ACTIVATIONS + OUTPUT_ACTIVATIONS)),
                     "activation", where)
    return name


class Layer:
    """Base of the layer units (see the module docstring for the contract)."""

    kind: ClassVar[str] = ""
    #: activation after the layer (``None``: the network's hidden/output default)
    activation: str | None = None

    def output_shape(self, in_shape: Shape) -> Shape:
        """Per-sample output shape for a per-sample input shape (raises if they do not fit)."""
        raise NotImplementedError

    def weight_shape(self, in_shape: Shape) -> tuple[int, int] | None:
        """``(fan_in, fan_out)`` of the ``W`` block, or ``None`` for a layer without weights."""
        return None

    def init_fans(self, in_shape: Shape) -> tuple[int, int]:
        """``(fan_in, fan_out)`` the Glorot / He initializers use."""
        return self.weight_shape(in_shape) or (0, 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description, with ``"type"``."""
        out: dict[str, Any] = {"type": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def workspace(self, x_shape: Shape, out_shape: Shape, P: int, dtype: np.dtype) -> dict:
        """Buffers for one mini-batch size (``x_shape``: the input array's full shape)."""
        return {}

    def linear(self, x: np.ndarray, W: np.ndarray, b: np.ndarray, ws: dict) -> np.ndarray:
        """Forward pass before the activation: ``z`` of shape ``(P, n, *out_shape)``."""
        raise NotImplementedError

    def backward(self, delta: np.ndarray, x: np.ndarray, W: np.ndarray, gW: np.ndarray,
                 gb: np.ndarray, ws: dict, need_input: bool) -> np.ndarray | None:
        """Write ``dL/dW``, ``dL/db`` from ``delta = dL/dz``; return ``dL/dx`` if asked."""
        raise NotImplementedError

    def backward_step(self, W: np.ndarray, gW: np.ndarray, gb: np.ndarray, ws: dict,
                      need_input: bool) -> Callable[[np.ndarray, np.ndarray], Any]:
        """:meth:`backward` bound to one workspace's views and buffers: ``(delta, x) -> dx``.

        The engine builds one per layer and batch size; a layer may choose its operations
        here once instead of on every mini-batch.
        """
        back = self.backward
        return lambda delta, x: back(delta, x, W, gW, gb, ws, need_input)


@dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer ``z = x @ W + b`` on flat inputs.

    Parameters
    ----------
    units : int
        Output units.
    activation : str, optional
        Activation after the layer; ``None`` takes the network's hidden (or, for the last
        layer, output) activation.
    """

    units: int
    activation: str | None = None
    kind: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", check_int(self.units, "units", "Dense", low=1))
        _check_activation(self.activation, "Dense")

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 1:
            fail("layers", "Dense", "a flat input (put a Flatten() before a Dense layer that "
                 "follows images)", f"an input of shape {in_shape}")
        return (self.units,)

    def weight_shape(self, in_shape: Shape) -> tuple[int, int]:
        return (in_shape[0], self.units)

    def workspace(self, x_shape, out_shape, P, dtype):
        return {"z": np.empty((P, x_shape[-2], self.units), dtype)}

    def linear(self, x, W, b, ws):
        z = np.matmul(x, W, out=ws["z"])
        z += b
        return z

    def backward(self, delta, x, W, gW, gb, ws, need_input):
        return self.backward_step(W, gW, gb, ws, need_input)(delta, x)

    def backward_step(self, W, gW, gb, ws, need_input):
        matmul, WT = np.matmul, W.transpose(0, 2, 1)
        one_unit, outer = W.shape[2] == 1, ws.get("outer")
        ones = dx = None  # made on first use, in the delta's dtype

        def step(delta: np.ndarray, x: np.ndarray) -> np.ndarray | None:
            nonlocal ones, dx
            if x.ndim == 2:  # the shared input: X^T @ delta_p for every network p
                matmul(x.T, delta, out=gW)
            else:
                matmul(x.transpose(0, 2, 1), delta, out=gW)
            if ones is None:
                ones = np.ones((1, delta.shape[-2]), delta.dtype)
            matmul(ones, delta, out=gb)  # bias gradient: sum of delta over the samples
            if not need_input:
                return None
            if dx is None:
                dx = np.empty(delta.shape[:-1] + (W.shape[1],), delta.dtype)
            if one_unit:
                # one unit: dL/dx is an outer product, and NumPy's matmul takes its slow
                # non-BLAS loop for an inner dimension of 1 (23 us at 40 x 32 x 16 float32,
                # the classic 10-16-1 step's largest product). The product plus 0 gives the
                # same bits as that loop's sum (0 + d w: -0.0 becomes +0.0) in 13 us; the
                # compiled kernel (GABP_KERNELS, put in the workspace by the engine) in 2-3.
                if outer is not None and delta.dtype == dx.dtype:
                    outer(delta, W, dx, dx.dtype.type(0))
                    return dx
                np.multiply(delta, WT, out=dx)
                dx += 0.0
                return dx
            return matmul(delta, WT, out=dx)
        return step


@dataclass(frozen=True)
class Conv2D(Layer):
    """2-D convolution (cross-correlation) over images, by im2col and one batched GEMM.

    Parameters
    ----------
    filters : int
        Output channels ``F``.
    kernel_size : int or (int, int)
        ``kh x kw``.
    stride : int
        Step of the kernel in both directions.
    padding : int
        Zeros added on each side of both image axes.
    activation : str, optional
        As for :class:`Dense`.
    """

    filters: int
    kernel_size: int | tuple[int, int] = 3
    stride: int = 1
    padding: int = 0
    activation: str | None = None
    kind: ClassVar[str] = "conv2d"

    def __post_init__(self) -> None:
        where = "Conv2D"
        object.__setattr__(self, "filters", check_int(self.filters, "filters", where, low=1))
        object.__setattr__(self, "kernel_size", _pair(self.kernel_size, "kernel_size", where, 1))
        object.__setattr__(self, "stride", check_int(self.stride, "stride", where, low=1))
        object.__setattr__(self, "padding", check_int(self.padding, "padding", where, low=0))
        _check_activation(self.activation, where)

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 3:
            fail("layers", "Conv2D", "an image input (C, H, W): start the layers with the "
                 "input shape or a Reshape((C, H, W))", f"an input of shape {in_shape}")
        H, W, _ = in_shape
        (kh, kw), s, p = self.kernel_size, self.stride, self.padding
        if H + 2 * p < kh or W + 2 * p < kw:
            fail("kernel_size", "Conv2D", f"at most the padded image size "
                 f"({H + 2 * p}, {W + 2 * p})", self.kernel_size)
        return ((H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1, self.filters)

    def weight_shape(self, in_shape: Shape) -> tuple[int, int]:
        kh, kw = self.kernel_size
        return (kh * kw * in_shape[2], self.filters)

    def init_fans(self, in_shape: Shape) -> tuple[int, int]:
        kh, kw = self.kernel_size
        return (kh * kw * in_shape[2], kh * kw * self.filters)

    def workspace(self, x_shape, out_shape, P, dtype):
        lead, (H, W, C) = x_shape[:-3], x_shape[-3:]
        p = self.padding
        ws: dict[str, Any] = {}
        if p:
            ws["pad"] = np.zeros(lead + (H + 2 * p, W + 2 * p, C), dtype)
        Ho, Wo, F = out_shape
        kh, kw = self.kernel_size
        n, K = x_shape[len(lead) - 1], kh * kw * C
        M = n * Ho * Wo  # samples x output pixels
        # im2col rows of K patch values and a 1, so that one product with the layer's
        # adjacent (W; b) block gives z (and, backward, gW with gb)
        cols = np.empty(lead[:-1] + (M, K + 1), dtype)
        cols[..., K] = 1.0
        ws["cols"] = cols
        ws["patches"] = cols[..., :K].reshape(lead + (Ho, Wo, kh, kw, C))  # a view
        ws["z"] = np.empty((P, M, F), dtype)
        ws["out"] = (P, n, Ho, Wo, F)
        return ws

    @staticmethod
    def _with_bias(W: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        """The ``(P, K + 1, F)`` view of ``W`` and then ``b`` when they are adjacent in memory.

        They are in every genome (a layer's block is its weights followed by its biases);
        ``None`` for other arrays, which then take a separate bias pass.
        """
        P, K, F = W.shape
        item = W.itemsize
        if (b.dtype == W.dtype and W.strides[1:] == (F * item, item)
                and b.strides[0] == W.strides[0] and b.strides[2] == item
                and b.ctypes.data == W.ctypes.data + K * F * item):
            return as_strided(W, shape=(P, K + 1, F), strides=W.strides)
        return None

    def _patches(self, x: np.ndarray, ws: dict) -> np.ndarray:
        """im2col: copy the patches of ``x`` into ``ws["cols"]`` (one strided-view copy)."""
        p, s = self.padding, self.stride
        if p:
            xp = ws["pad"]
            xp[..., p:-p, p:-p, :] = x
        else:
            xp = x
        dest = ws["patches"]
        st = xp.strides
        view = as_strided(xp, shape=dest.shape,
                          strides=st[:-3] + (st[-3] * s, st[-2] * s, st[-3], st[-2], st[-1]),
                          writeable=False)
        np.copyto(dest, view)
        return ws["cols"]

    def linear(self, x, W, b, ws):
        cols = self._patches(x, ws)
        Wb = self._with_bias(W, b)
        if Wb is not None:
            z = np.matmul(cols, Wb, out=ws["z"])
        else:
            z = np.matmul(cols[..., :-1], W, out=ws["z"])
            z += b
        return z.reshape(ws["out"])

    def backward(self, delta, x, W, gW, gb, ws, need_input):
        P, F = delta.shape[0], delta.shape[-1]
        d = delta.reshape(P, -1, F)
        cols = ws["cols"]
        colsT = cols.T if cols.ndim == 2 else cols.transpose(0, 2, 1)
        gWb = self._with_bias(gW, gb)
        if gWb is not None:  # the ones column sums delta into gb
            np.matmul(colsT, d, out=gWb)
        else:
            np.matmul(colsT[..., :-1, :], d, out=gW)
            np.matmul(colsT[..., -1:, :], d, out=gb)
        if not need_input:
            return None
        return self._input_gradient(delta, W, x.shape[-3:], ws)

    def _input_gradient(self, delta: np.ndarray, W: np.ndarray, in_shape: Shape,
                        ws: dict) -> np.ndarray:
        """``dL/dx`` as a stride-1 convolution of the spread-out ``delta`` with the flipped kernel.

        ``dx[h, w] = sum over taps (i, j) of B[h + i, w + j] @ W[kh-1-i, kw-1-j]^T`` where
        ``B`` (``(H + kh - 1, W + kw - 1)`` pixels, zero elsewhere) holds ``delta[o_h, o_w]``
        at ``(o_h * s + kh - 1 - p, o_w * s + kw - 1 - p)``: one im2col copy of ``B`` and one
        product, instead of a patch-gradient product and ``kh * kw`` strided adds (col2im).
        Entries of ``B`` never written stay zero, so its buffer is reused without clearing.
        """
        P, n, Ho, Wo, F = delta.shape
        H, Wd, C = in_shape
        (kh, kw), s, p = self.kernel_size, self.stride, self.padding
        grad = ws.get("grad")
        if grad is None:  # first backward pass of this batch size
            spread = np.zeros((P, n, H + kh - 1, Wd + kw - 1, F), delta.dtype)
            rows = [(o, o * s + kh - 1 - p) for o in range(Ho)]
            cols = [(o, o * s + kw - 1 - p) for o in range(Wo)]
            rows = [r for r in rows if 0 <= r[1] < H + kh - 1]  # others touch padding only
            cols = [c for c in cols if 0 <= c[1] < Wd + kw - 1]
            grad = ws["grad"] = {
                "spread": spread,
                "src": (slice(rows[0][0], rows[-1][0] + 1),
                        slice(cols[0][0], cols[-1][0] + 1)),
                "dst": (slice(rows[0][1], rows[-1][1] + 1, s),
                        slice(cols[0][1], cols[-1][1] + 1, s)),
                "cols": np.empty((P, n, H, Wd, kh, kw, F), delta.dtype),
                "dx": np.empty((P, n, H, Wd, C), delta.dtype),
            }
        spread = grad["spread"]
        (r0, c0), (r1, c1) = grad["src"], grad["dst"]
        spread[:, :, r1, c1] = delta[:, :, r0, c0]
        st = spread.strides
        view = as_strided(spread, shape=grad["cols"].shape,
                          strides=st[:2] + (st[2], st[3], st[2], st[3], st[4]), writeable=False)
        np.copyto(grad["cols"], view)
        flipped = W.reshape(P, kh, kw, C, F)[:, ::-1, ::-1].transpose(0, 1, 2, 4, 3)
        flipped = flipped.reshape(P, kh * kw * F, C)  # a small copy
        dx = grad["dx"]
        np.matmul(grad["cols"].reshape(P, n * H * Wd, kh * kw * F), flipped,
                  out=dx.reshape(P, n * H * Wd, C))
        return dx


@dataclass(frozen=True)
class MaxPool2D(Layer):
    """Max pooling over ``size x size`` windows moved by ``stride`` (default ``size``).

    Windows that do not fit are dropped (no padding). The gradient of a window goes to its
    first maximum in row-major window order, so ties get one subgradient, not several.

    When the windows tile the image (``stride == size`` and both sides divisible by it) the
    maximum is taken in two reductions over reshaped views, first along each window's rows
    (``size - 1`` whole-array maxima) and then across them; the backward pass finds the
    first maximum of each stage by comparison with that stage's result, so no index arrays
    are kept. Other windows (overlapping or ragged) keep the tap index of their maximum.
    """

    size: int = 2
    stride: int | None = None
    kind: ClassVar[str] = "maxpool2d"

    def __post_init__(self) -> None:
        where = "MaxPool2D"
        object.__setattr__(self, "size", check_int(self.size, "size", where, low=1))
        if self.stride is None:
            object.__setattr__(self, "stride", self.size)
        object.__setattr__(self, "stride", check_int(self.stride, "stride", where, low=1))

    @property
    def activation(self) -> str:  # type: ignore[override]
        return "identity"

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 3:
            fail("layers", "MaxPool2D", "an image input (C, H, W)",
                 f"an input of shape {in_shape}")
        H, W, C = in_shape
        if H < self.size or W < self.size:
            fail("size", "MaxPool2D", f"at most the image size ({H}, {W})", self.size)
        s = self.stride
        return ((H - self.size) // s + 1, (W - self.size) // s + 1, C)

    def _tiles(self, in_shape: Shape) -> bool:
        k = self.size
        return self.stride == k and in_shape[-3] % k == 0 and in_shape[-2] % k == 0

    def workspace(self, x_shape, out_shape, P, dtype):
        shape = x_shape[:-3] + out_shape
        ws: dict[str, Any] = {"z": np.empty(shape, dtype), "tiles": self._tiles(x_shape)}
        if ws["tiles"]:  # stage 1 output: maxima along each window row, (..., H, Wo, C)
            ws["rows"] = np.empty(x_shape[:-2] + out_shape[-2:], dtype)
        else:
            tap = np.int8 if self.size ** 2 < 128 else np.int32
            ws["idx"], ws["gt"] = np.empty(shape, tap), np.empty(shape, bool)
        return ws

    def _taps(self, x: np.ndarray, Ho: int, Wo: int):
        """The ``size * size`` strided views ``x[..., i::s, j::s, :]`` cut to ``(Ho, Wo)``."""
        k, s = self.size, self.stride
        for t in range(k * k):
            i, j = divmod(t, k)
            yield x[..., i : i + s * (Ho - 1) + 1 : s, j : j + s * (Wo - 1) + 1 : s, :]

    def _stages(self, x: np.ndarray, ws: dict) -> tuple[list, list]:
        """Views of the two reductions: ``(taps_1, out_1)``, ``(taps_2, out_2)``."""
        k, rows, z = self.size, ws["rows"], ws["z"]
        lead, (H, W, C) = x.shape[:-3], x.shape[-3:]
        v1 = x.reshape(lead + (H, W // k, k, C))
        v2 = rows.reshape(lead + (H // k, k, W // k, C))
        return ([v1[..., j, :] for j in range(k)], rows), ([v2[..., i, :, :] for i in range(k)], z)

    def linear(self, x, W, b, ws):
        z = ws["z"]
        if ws["tiles"]:
            for taps, out in self._stages(x, ws):
                if len(taps) == 1:
                    np.copyto(out, taps[0])
                else:
                    np.maximum(taps[0], taps[1], out=out)
                for tap in taps[2:]:
                    np.maximum(out, tap, out=out)
            return z
        idx, gt = ws["idx"], ws["gt"]
        Ho, Wo = z.shape[-3:-1]
        taps = self._taps(x, Ho, Wo)
        np.copyto(z, next(taps))
        idx.fill(0)
        for t, tap in enumerate(taps, start=1):  # one whole-array maximum per window tap
            np.greater(tap, z, out=gt)  # strictly: a tie keeps the earlier tap
            np.copyto(idx, t, where=gt)
            np.maximum(z, tap, out=z)
        return z

    @staticmethod
    def _route(taps: list, out: np.ndarray, delta: np.ndarray, dtaps: list) -> None:
        """``dtaps[t] = delta`` where tap ``t`` is the first to equal ``out``, else 0.

        What is not yet routed (``delta`` or exactly 0) is carried to the next tap, so the
        last tap takes the rest without a comparison.
        """
        last = len(taps) - 1
        if last == 0:
            np.copyto(dtaps[0], delta)
            return
        eq = np.empty(out.shape, bool)
        rest = delta
        for t in range(last):
            np.equal(taps[t], out, out=eq)
            np.multiply(rest, eq, out=dtaps[t])
            target = dtaps[last] if t == last - 1 else (rest if t else np.empty_like(delta))
            rest = np.subtract(rest, dtaps[t], out=target)

    def backward(self, delta, x, W, gW, gb, ws, need_input):
        if not need_input:
            return None
        lead = delta.shape[:-3]
        H, Wd, C = x.shape[-3:]
        k = self.size
        if ws["tiles"]:
            dx = np.empty(lead + (H, Wd, C), delta.dtype)
            drows = np.empty(ws["rows"].shape, delta.dtype)
            (taps1, rows), (taps2, z) = self._stages(x, ws)
            d2 = drows.reshape(lead + (H // k, k, Wd // k, C))
            self._route(taps2, z, delta, [d2[..., i, :, :] for i in range(k)])
            d1 = dx.reshape(lead + (H, Wd // k, k, C))
            self._route(taps1, rows, drows, [d1[..., j, :] for j in range(k)])
            return dx
        idx = ws["idx"]
        Ho, Wo = idx.shape[-3:-1]
        dx = np.zeros(lead + (H, Wd, C), delta.dtype)
        for t, dtap in enumerate(self._taps(dx, Ho, Wo)):  # overlapping or ragged windows
            dtap += delta * (idx == t)
        return dx


@dataclass(frozen=True)
class Flatten(Layer):
    """Images ``(C, H, W)`` to flat rows of ``C * H * W`` in ``(C, H, W)`` order."""

    kind: ClassVar[str] = "flatten"

    @property
    def activation(self) -> str:  # type: ignore[override]
        return "identity"

    def output_shape(self, in_shape: Shape) -> Shape:
        return (int(np.prod(in_shape)),)

    def linear(self, x, W, b, ws):
        if len(ws["in_shape"]) == 1:  # already flat
            return x
        return np.moveaxis(x, -1, -3).reshape(x.shape[:-3] + (-1,))  # (..., C, H, W) rows

    def backward(self, delta, x, W, gW, gb, ws, need_input):
        if not need_input or len(ws["in_shape"]) == 1:
            return delta if need_input else None
        H, Wd, C = ws["in_shape"]
        d = delta.reshape(delta.shape[:-1] + (C, H, Wd))
        return np.ascontiguousarray(np.moveaxis(d, -3, -1))


@dataclass(frozen=True)
class Reshape(Layer):
    """Flat rows to images: ``shape`` is ``(C, H, W)`` (stored channels-last inside)."""

    shape: tuple[int, ...]
    kind: ClassVar[str] = "reshape"

    def __post_init__(self) -> None:
        where = "Reshape"
        if not isinstance(self.shape, (list, tuple)) or len(self.shape) != 3:
            fail("shape", where, "an image shape (C, H, W)", self.shape)
        object.__setattr__(self, "shape",
                           tuple(check_int(v, "shape", where, low=1) for v in self.shape))

    @property
    def activation(self) -> str:  # type: ignore[override]
        return "identity"

    def output_shape(self, in_shape: Shape) -> Shape:
        C, H, W = self.shape
        if int(np.prod(in_shape)) != C * H * W:
            fail("shape", "Reshape", f"of {int(np.prod(in_shape))} values (the input's)",
                 self.shape)
        return (H, W, C)

    def linear(self, x, W, b, ws):
        C, H, Wd = self.shape
        rows = Flatten.linear(self, x, W, b, ws)  # images already: their (C, H, W) rows
        img = rows.reshape(rows.shape[:-1] + (C, H, Wd))
        return np.ascontiguousarray(np.moveaxis(img, -3, -1))

    def backward(self, delta, x, W, gW, gb, ws, need_input):
        if not need_input:
            return None
        d = np.ascontiguousarray(np.moveaxis(delta, -1, -3))  # (..., C, H, W)
        return Flatten.backward(self, d.reshape(d.shape[:-3] + (-1,)), x, W, gW, gb, ws, True)


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.kind: cls for cls in (Dense, Conv2D, MaxPool2D, Flatten, Reshape)
}


def layer_to_dict(layer: Layer) -> dict[str, Any]:
    """JSON-able description of a layer (``{"type": ..., **fields}``)."""
    return layer.to_dict()


def layer_from_dict(spec: Any, where: str = "layers") -> Layer:
    """A layer from a :class:`Layer` or a dict such as ``{"type": "conv2d", "filters": 8}``."""
    if isinstance(spec, Layer):
        return spec
    if not isinstance(spec, dict) or "type" not in spec:
        fail("layers", where, "layer objects or tables with a 'type' key "
             f"(one of {sorted(LAYER_TYPES)})", spec, exc=TypeError)
    kind = check_choice(str(spec["type"]).lower(), tuple(LAYER_TYPES), "type", where)
    cls = LAYER_TYPES[kind]
    given = {k: v for k, v in spec.items() if k != "type"}
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(given) - known)
    if unknown:
        fail("layers", where, f"keys of a '{kind}' layer among {sorted(known)}",
             f"unknown key(s) {unknown}")
    if kind == "reshape" and "shape" in given:
        given["shape"] = tuple(given["shape"])
    return cls(**given)
