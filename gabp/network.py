"""Feed-forward networks over a population axis.

The parameters of ``P`` same-shaped networks live in one float64 array of shape
``(P, n_params)``. The flat layout of one network (one row) is, layer by layer::

    W_1 (n_0 * n_1, row-major: W_1[i, j] at i * n_1 + j), b_1 (n_1),
    W_2 (n_1 * n_2), b_2 (n_2), ..., W_L, b_L

so for the classic one-hidden-layer network it is exactly the MATLAB GA-BP chromosome:
input-to-hidden weights, hidden biases, hidden-to-output weights, output biases. Each layer's
``W`` (``(P, fan_in, fan_out)``) and ``b`` (``(P, 1, fan_out)``) are *views* into that array,
so a genetic algorithm's genomes and the trainer's weights are the same memory.

A layer computes ``a = f(a_prev @ W + b)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._files import NpzReader, atomic_open
from ._validation import check_array, check_choice, check_float, check_int, fail
from .activations import (
    ACTIVATIONS,
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    apply_inplace,
    mul_derivative_inplace,
)
from .losses import LOSS_OUTPUT, LOSSES

INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "uniform")


@dataclass(frozen=True)
class Architecture:
    """Shape of a feed-forward network and where each parameter lives in the flat vector.

    Parameters
    ----------
    layer_sizes : tuple of int
        ``(n_in, hidden..., n_out)``; at least two entries.
    activations : tuple of str
        One activation per layer after the input (``len(layer_sizes) - 1``).
    """

    layer_sizes: tuple[int, ...]
    activations: tuple[str, ...]

    @classmethod
    def build(
        cls,
        layer_sizes: Sequence[int],
        *,
        hidden_activation: str | Sequence[str] = "tanh",
        output_activation: str = "identity",
        where: str = "Architecture",
    ) -> Architecture:
        """Validate sizes and activation names and return the architecture."""
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
            fail("layer_sizes", where, "a sequence of integers", layer_sizes, exc=TypeError)
        if len(layer_sizes) < 2:
            fail("layer_sizes", where, "a sequence of at least 2 sizes (n_in, n_out)", layer_sizes)
        sizes = tuple(check_int(s, "layer_sizes", where, low=1) for s in layer_sizes)
        n_hidden = len(sizes) - 2
        if isinstance(hidden_activation, str):
            hidden = (hidden_activation,) * n_hidden
        else:
            hidden = tuple(hidden_activation)
            if len(hidden) != n_hidden:
                fail(
                    "hidden_activation",
                    where,
                    f"a name or a sequence of {n_hidden} names (one per hidden layer)",
                    hidden_activation,
                )
        for name in hidden:
            check_choice(name, HIDDEN_ACTIVATIONS, "hidden_activation", where)
        check_choice(output_activation, OUTPUT_ACTIVATIONS, "output_activation", where)
        return cls(sizes, hidden + (output_activation,))

    @property
    def n_layers(self) -> int:
        """Number of weight layers."""
        return len(self.layer_sizes) - 1

    @property
    def n_inputs(self) -> int:
        """Number of input units."""
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        """Number of output units."""
        return self.layer_sizes[-1]

    @property
    def offsets(self) -> tuple[tuple[int, int, int], ...]:
        """``(w_start, b_start, b_end)`` of each layer in the flat parameter vector."""
        out, pos = [], 0
        for fi, fo in zip(self.layer_sizes[:-1], self.layer_sizes[1:], strict=True):
            out.append((pos, pos + fi * fo, pos + fi * fo + fo))
            pos += fi * fo + fo
        return tuple(out)

    @property
    def n_params(self) -> int:
        """Length of one network's flat parameter vector."""
        return self.offsets[-1][2]

    def weight_mask(self) -> np.ndarray:
        """Boolean ``(n_params,)``: True where the entry is a weight, False for a bias."""
        mask = np.zeros(self.n_params, dtype=bool)
        for w0, b0, _ in self.offsets:
            mask[w0:b0] = True
        return mask

    def views(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-layer ``(W, b)`` views of ``flat`` (shape ``(P, n_params)``).

        ``W`` has shape ``(P, fan_in, fan_out)`` and ``b`` ``(P, 1, fan_out)``; writing into
        them writes into ``flat``.
        """
        P = flat.shape[0]
        layers = []
        for (w0, b0, b1), fi, fo in zip(
            self.offsets, self.layer_sizes[:-1], self.layer_sizes[1:], strict=True
        ):
            layers.append((flat[:, w0:b0].reshape(P, fi, fo), flat[:, b0:b1].reshape(P, 1, fo)))
        return layers

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description (layer sizes and activations)."""
        return {"layer_sizes": list(self.layer_sizes), "activations": list(self.activations)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Architecture:
        """Rebuild (and validate) an architecture from :meth:`to_dict`."""
        acts = list(d["activations"])
        return cls.build(d["layer_sizes"], hidden_activation=acts[:-1], output_activation=acts[-1])


DTYPES = ("float64", "float32")


def check_dtype(dtype: Any, where: str) -> np.dtype:
    """Return ``dtype`` as a NumPy float dtype if it is float64 or float32."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        fail("dtype", where, "numpy.float64 or numpy.float32", dtype)
    return dt


def init_params(
    arch: Architecture,
    n_networks: int,
    *,
    method: str = "glorot_uniform",
    init_range: float = 0.5,
    rng: np.random.Generator | int | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Draw initial parameters for ``n_networks`` networks.

    Parameters
    ----------
    method : {"glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "uniform"}
        Glorot/Xavier: ``U(+-sqrt(6 / (fan_in + fan_out)))`` or ``N(0, 2 / (fan_in + fan_out))``
        (for sigmoid layers the uniform bound is multiplied by 4, as Glorot & Bengio advise);
        He: ``N(0, 2 / fan_in)`` or ``U(+-sqrt(6 / fan_in))``. These set biases to zero.
        ``"uniform"`` is the classic GA-BP recipe: weights *and* biases ``U(-init_range,
        init_range)``.
    dtype : {numpy.float64, numpy.float32}
        Precision of the parameters; float32 trains about twice as fast, float64 is exact
        enough for finite-difference checks.

    Returns
    -------
    ndarray of shape (n_networks, n_params)
    """
    where = "init_params"
    n_networks = check_int(n_networks, "n_networks", where, low=1)
    check_choice(method, INITIALIZERS, "method", where)
    init_range = check_float(init_range, "init_range", where, low=0, low_open=True)
    rng = np.random.default_rng(rng)
    dtype = check_dtype(dtype, where)
    flat = np.zeros((n_networks, arch.n_params), dtype=dtype)
    for (W, b), act in zip(arch.views(flat), arch.activations, strict=True):
        fi, fo = W.shape[1:]
        if method == "glorot_uniform":
            bound = np.sqrt(6.0 / (fi + fo)) * (4.0 if act == "sigmoid" else 1.0)
            W[...] = rng.uniform(-bound, bound, W.shape)
        elif method == "glorot_normal":
            W[...] = rng.normal(0.0, np.sqrt(2.0 / (fi + fo)), W.shape)
        elif method == "he_normal":
            W[...] = rng.normal(0.0, np.sqrt(2.0 / fi), W.shape)
        elif method == "he_uniform":
            bound = np.sqrt(6.0 / fi)
            W[...] = rng.uniform(-bound, bound, W.shape)
        else:
            W[...] = rng.uniform(-init_range, init_range, W.shape)
            b[...] = rng.uniform(-init_range, init_range, b.shape)
    return flat


def forward(
    arch: Architecture, params: np.ndarray, X: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Run the forward pass of every network.

    Parameters
    ----------
    params : ndarray of shape (P, n_params)
    X : ndarray of shape (n, n_in), shared by all networks

    Returns
    -------
    activations : list of ndarray
        ``[X, a_1, ..., a_L]``; ``a_l`` has shape ``(P, n, n_l)``.
    z_out : ndarray of shape (P, n, n_out)
        Pre-activation of the output layer (the losses need it for stable log terms).
    """
    acts = [X]
    a = X
    z = X
    for (W, b), name in zip(arch.views(params), arch.activations, strict=True):
        z = np.matmul(a, W)
        z += b
        a = ACTIVATIONS[name][0](z)
        acts.append(a)
    return acts, z


def _alpha_column(alpha: float | np.ndarray, P: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(alpha, dtype=float).reshape(-1), (P,)).reshape(P, 1)


class _Backprop:
    """Views and scratch buffers for repeated loss-and-gradient passes over one population.

    Built once per :func:`train` call (or per :func:`loss_and_grad` call): the per-layer
    views of ``params`` and ``grad``, the weight slices for the L2 term and, per mini-batch
    size, the activation / delta / scratch buffers, so the hot loop allocates almost nothing.
    The arithmetic is the same as the plain formulas; only the memory is reused.
    """

    def __init__(
        self,
        arch: Architecture,
        params: np.ndarray,
        grad: np.ndarray,
        alpha: float | np.ndarray = 0.0,
    ) -> None:
        self.arch = arch
        self.params, self.grad = params, grad
        self.P = params.shape[0]
        self.layers = arch.views(params)
        self.glayers = arch.views(grad)
        self.hidden = arch.activations[:-1]
        self.out_act = arch.activations[-1]
        self.alpha: np.ndarray | None = None
        if np.any(alpha):
            self.alpha = _alpha_column(alpha, self.P).astype(params.dtype)
            self.weights = [(params[:, w0:b0], grad[:, w0:b0]) for w0, b0, _ in arch.offsets]
        self._buffers: dict[int, tuple] = {}

    def _get_buffers(self, n: int) -> tuple:
        bufs = self._buffers.get(n)
        if bufs is None:
            P, dt = self.P, self.params.dtype
            sizes = self.arch.layer_sizes[1:]
            z = [np.empty((P, n, k), dt) for k in sizes]
            tmp = [np.empty((P, n, k), dt) for k in sizes]
            delta = [np.empty((P, n, k), dt) for k in sizes[:-1]]
            a_out = z[-1] if self.out_act == "identity" else np.empty((P, n, sizes[-1]), dt)
            ones_n = np.ones((1, n), dt)  # row sums as one matrix product: ones @ delta
            ones_k = np.ones(sizes[-1], dt)  # softmax denominators: e @ ones
            rows = (np.empty((P, n), dt), np.empty((P, n), dt))  # softmax max and sum
            bufs = (z, tmp, delta, a_out, ones_n, ones_k, rows)
            if len(self._buffers) > 4:  # only a few batch sizes occur in one training run
                self._buffers.clear()
            self._buffers[n] = bufs
        return bufs

    def _softmax(self, z: np.ndarray, a: np.ndarray, bufs: tuple) -> None:
        """``a = softmax(z)``; keeps the row maxima and sums for the cross-entropy."""
        zmax, ssum = bufs[6]
        k = z.shape[-1]
        if k <= 16:  # a few column maxima beat a reduction over a short contiguous axis
            np.copyto(zmax, z[..., 0])
            for j in range(1, k):
                np.maximum(zmax, z[..., j], out=zmax)
        else:
            np.max(z, axis=-1, out=zmax)
        np.subtract(z, zmax[..., None], out=a)
        np.exp(a, out=a)  # in (0, 1], the row maximum is exactly 1
        np.matmul(a, bufs[5], out=ssum)
        a /= ssum[..., None]

    def forward(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Activations ``[X, a_1, ..., a_L]`` and the output pre-activation (buffers)."""
        bufs = self._get_buffers(X.shape[0])
        z_bufs, tmp, _, a_out = bufs[:4]
        acts = [X]
        a = X
        last = len(self.layers) - 1
        for i, (W, b) in enumerate(self.layers):
            z = z_bufs[i]
            np.matmul(a, W, out=z)
            z += b
            if i < last:
                a = apply_inplace(self.hidden[i], z, tmp[i])
            else:
                name = self.out_act
                if name == "softmax":
                    self._softmax(z, a_out, bufs)
                elif name == "tanh":
                    np.tanh(z, out=a_out)
                elif name != "identity":
                    np.copyto(a_out, z)
                    apply_inplace(name, a_out, tmp[i])
                a = a_out
            acts.append(a)
        return acts, z_bufs[last]

    def _cross_entropy(self, z: np.ndarray, a: np.ndarray, Y: np.ndarray, bufs: tuple):
        """The ``"cross_entropy"`` loss from the forward pass's softmax pieces.

        ``log softmax(z)_k = z_k - lse`` with ``lse = max z + log(sum exp(z - max z))``, the
        sum kept by :meth:`_softmax` (no second ``exp``). Same value and gradient as
        :data:`gabp.losses.LOSSES` ``["cross_entropy"]``.
        """
        n = z.shape[-2]
        zmax, ssum = bufs[6]
        lse = np.log(ssum)
        lse += zmax
        zy = z.reshape(self.P, -1) @ Y.reshape(-1)
        value = (lse @ Y.sum(axis=-1) - zy) / n
        delta = np.subtract(a, Y, out=bufs[1][-1])
        delta *= 1.0 / n
        return value, delta

    def __call__(self, X: np.ndarray, Y: np.ndarray, loss: str) -> np.ndarray:
        """Objective of every network on ``(X, Y)``; the gradient is written to ``grad``."""
        acts, z = self.forward(X)
        bufs = self._get_buffers(X.shape[0])
        _, tmp, deltas, _, ones_n, _, _ = bufs
        if loss == "cross_entropy" and self.out_act == "softmax":
            value, delta = self._cross_entropy(z, acts[-1], Y, bufs)
        else:
            value, delta = LOSSES[loss](z, acts[-1], Y, self.out_act)
        for i in range(len(self.layers) - 1, -1, -1):
            gW, gb = self.glayers[i]
            a_prev = acts[i]
            if a_prev.ndim == 2:  # the shared input: X^T @ delta_p for every network p
                np.matmul(a_prev.T, delta, out=gW)
            else:
                np.matmul(a_prev.transpose(0, 2, 1), delta, out=gW)
            np.matmul(ones_n, delta, out=gb)  # bias gradient: sum of delta over the samples
            if i > 0:
                W = self.layers[i][0]
                delta = np.matmul(delta, W.transpose(0, 2, 1), out=deltas[i - 1])
                mul_derivative_inplace(self.hidden[i - 1], delta, a_prev, tmp[i - 1])
        if self.alpha is not None:
            # L2 on weights only: grad_W += alpha W, objective += alpha / 2 * sum(W ** 2)
            sq = np.zeros(self.P, dtype=np.result_type(value.dtype, self.params.dtype))
            for w, gw in self.weights:
                sq += np.einsum("pi,pi->p", w, w)
                gw += self.alpha * w
            value = value + 0.5 * self.alpha[:, 0] * sq
        return value


def loss_and_grad(
    arch: Architecture,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    loss: str = "mse",
    alpha: float | np.ndarray = 0.0,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss and its gradient for every network (one forward and one backward pass).

    The objective is ``loss(outputs, Y) + alpha / 2 * sum(W ** 2)`` over weights only
    (biases are not penalized).

    Parameters
    ----------
    params : ndarray of shape (P, n_params)
    X : ndarray of shape (n, n_in)
    Y : ndarray of shape (n, n_out)
    alpha : float or ndarray of shape (P,)
        L2 strength, one per network or shared.
    out : ndarray of shape (P, n_params), optional
        Where to write the gradient (same flat layout as ``params``).

    Returns
    -------
    objective : ndarray of shape (P,)
    grad : ndarray of shape (P, n_params)
    """
    grad = np.empty_like(params) if out is None else out
    value = _Backprop(arch, params, grad, alpha)(X, Y, loss)
    return value, grad


def evaluate_loss(
    arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray, *, loss: str = "mse"
) -> np.ndarray:
    """Data loss (no L2 term) of every network on ``(X, Y)``: shape ``(P,)``."""
    acts, z = forward(arch, params, X)
    return LOSSES[loss](z, acts[-1], Y, arch.activations[-1])[0]


def check_loss(loss: str, arch: Architecture, where: str) -> str:
    """Validate a loss name and that the output activation suits it."""
    check_choice(loss, LOSSES, "loss", where)
    need = LOSS_OUTPUT[loss]
    if need is not None and arch.activations[-1] != need:
        fail(
            "loss",
            where,
            f"used with a '{need}' output activation when it is '{loss}'",
            loss,
            hint=f"The network's output activation is '{arch.activations[-1]}'.",
        )
    return loss


class Network:
    """A population of ``n_networks`` same-shaped feed-forward networks.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_in, hidden..., n_out)``.
    hidden_activation : str or sequence of str
        One of ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``identity``.
    output_activation : str
        ``identity`` (regression), ``sigmoid`` (binary / multi-label), ``softmax``
        (multi-class) or ``tanh``.
    n_networks : int
        Population size ``P``; ``1`` for a single network.
    init : str
        Initializer, see :func:`init_params`.
    seed : int, Generator or None
        Seed for the initial weights.
    params : ndarray of shape (P, n_params), optional
        Use these parameters (not copied if float64/float32) instead of drawing new ones.
    dtype : numpy.float64 or numpy.float32
        Precision of newly drawn parameters.

    Examples
    --------
    >>> net = Network((2, 5, 1), hidden_activation="tanh", seed=0)
    >>> net.predict([[0.0, 1.0]]).shape
    (1, 1)
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        *,
        hidden_activation: str | Sequence[str] = "tanh",
        output_activation: str = "identity",
        n_networks: int = 1,
        init: str = "glorot_uniform",
        init_range: float = 0.5,
        seed: np.random.Generator | int | None = None,
        params: np.ndarray | None = None,
        dtype: type = np.float64,
    ) -> None:
        self.arch = Architecture.build(
            layer_sizes,
            hidden_activation=hidden_activation,
            output_activation=output_activation,
            where="Network",
        )
        if params is None:
            params = init_params(
                self.arch, n_networks, method=init, init_range=init_range, rng=seed, dtype=dtype
            )
        else:
            params = np.asarray(params)
            if params.dtype.name not in DTYPES:
                params = params.astype(np.float64)
            if params.ndim == 1:
                params = params[None, :]
            if params.ndim != 2 or params.shape[1] != self.arch.n_params:
                fail(
                    "params",
                    "Network",
                    f"an array of shape (P, {self.arch.n_params})",
                    params,
                )
        self.params = params

    @classmethod
    def from_architecture(cls, arch: Architecture, params: np.ndarray) -> Network:
        """Wrap existing parameters (not copied) of shape ``(P, arch.n_params)``."""
        acts = arch.activations
        return cls(
            arch.layer_sizes, hidden_activation=acts[:-1], output_activation=acts[-1], params=params
        )

    @property
    def n_networks(self) -> int:
        """Population size ``P``."""
        return self.params.shape[0]

    @property
    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-layer ``(W, b)`` views into :attr:`params`."""
        return self.arch.views(self.params)

    def _check_X(self, X: Any, where: str) -> np.ndarray:
        X = check_array(X, "X", where, ndim=2, dtype=self.params.dtype)
        if X.shape[1] != self.arch.n_inputs:
            fail("X", where, f"an array with {self.arch.n_inputs} columns", X)
        return X

    def forward(self, X: Any) -> np.ndarray:
        """Outputs of every network: shape ``(P, n, n_out)``."""
        X = self._check_X(X, "Network.forward")
        with np.errstate(over="ignore", invalid="ignore"):
            return forward(self.arch, self.params, X)[0][-1]

    def predict(self, X: Any, *, member: int = 0) -> np.ndarray:
        """Outputs of network ``member``: shape ``(n, n_out)``."""
        return self.forward(X)[member]

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.arch.layer_sizes)
        return (
            f"Network({sizes}, activations={list(self.arch.activations)}, "
            f"n_networks={self.n_networks}, n_params={self.arch.n_params})"
        )


def save_network(path: str | os.PathLike, net: Network, *, extra: dict | None = None) -> None:
    """Save parameters and architecture to one ``.npz`` file (no pickle).

    The architecture (and ``extra``, any JSON-able dict) is stored as a JSON string.
    The file is written to a unique temporary name, fsynced and renamed, so it is never
    half-written.
    """
    meta = {"format": "gabp.network/1", "architecture": net.arch.to_dict(), "extra": extra or {}}
    with atomic_open(path) as fh:
        np.savez(fh, params=net.params, meta=np.array(json.dumps(meta)))


def load_network(path: str | os.PathLike) -> tuple[Network, dict]:
    """Load a network saved by :func:`save_network`; returns ``(network, extra)``.

    The file is not trusted: the metadata is read first (bounded size), and the
    parameter array's header must match the architecture before its data is read.
    Raises ``ValueError`` naming the file for anything else.
    """
    path = os.fspath(path)
    with NpzReader(path, "gabp network file") as npz:
        try:
            meta = json.loads(npz.read_text("meta"))
            arch = Architecture.from_dict(meta["architecture"])
            extra = meta.get("extra", {})
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise npz.error(f"bad metadata ({type(exc).__name__}: {exc})") from None
        if not isinstance(extra, dict):
            raise npz.error("bad metadata ('extra' is not a table)")
        params = npz.read("params", shape=(None, arch.n_params))
    if params.shape[0] < 1:
        raise ValueError(f"{path} is not a valid gabp network file: no parameters.")
    return Network.from_architecture(arch, params), extra
