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

Layers are units (:mod:`gabp.layers`): a dense network is a stack of ``Dense`` layers with
exactly the layout above; ``Conv2D``, ``MaxPool2D``, ``Flatten`` and ``Reshape`` join the same
stack, each with its own ``(W, b)`` block (or none) in the flat vector, so the GA never sees a
difference. :class:`_Backprop` is the one forward and backward pass (training, evaluation,
:func:`forward` and :func:`loss_and_grad` all use it); activations and losses are defined
once, in :mod:`gabp.activations` and :mod:`gabp.losses`. For each batch size it builds, once,
every layer's forward and backward step and the loss's step (which passes, compiled or
NumPy's, with which buffers), so a mini-batch runs the array operations and little else:
the fixed cost of a step is what a small network's population pays on every mini-batch.

With the compiled kernels (numba, the optional extra ``gabp[fast]``; ``GABP_KERNELS``
chooses) a dense layer's bias add and ReLU, tanh or sigmoid (around NumPy's ``tanh`` and
``exp``), the ReLU, tanh and sigmoid derivatives of the backward pass, a dense softmax
output's bias add, row maximum and shift, the softmax cross-entropy's and the MSE's loss
and ``dL/dz`` (in training, the softmax's division too) are compiled passes
(:mod:`gabp._kernels`): the gradients are bit-identical to the NumPy passes, the
cross-entropy's and the MSE's loss values differ by rounding (their sums are added in
another order).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._files import NpzReader, atomic_open
from ._kernels import prepare, ready
from ._validation import check_array, check_choice, check_float, check_int, fail
from .activations import (
    ACTIVATIONS,
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    softmax,
    softmax_shifted,
)
from .layers import Conv2D, Dense, Layer, Reshape, layer_from_dict, layer_to_dict
from .losses import LOSS_OUTPUT, LOSSES

INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "uniform")


@dataclass(frozen=True)
class Architecture:
    """Layers of a network and where each parameter lives in the flat vector.

    Build one with :meth:`build`. A dense-only network is ``layer_sizes`` plus
    ``activations``, as it always was; ``layers`` then holds the equivalent
    :class:`~gabp.layers.Dense` units, so a dense network described either way is the same.

    Parameters
    ----------
    layer_sizes : tuple of int
        ``(n_in, n_1, ..., n_out)``: the flat input size and every layer's flat output size
        (for a dense network the layer widths).
    activations : tuple of str
        One activation per layer (``"identity"`` for pooling, flattening and reshaping).
    layers : tuple of Layer
        The units, each with its activation resolved; filled from ``layer_sizes`` and
        ``activations`` when empty.
    """

    layer_sizes: tuple[int, ...]
    activations: tuple[str, ...]
    layers: tuple[Layer, ...] = ()

    def __post_init__(self) -> None:
        if not self.layers:
            object.__setattr__(self, "layers", tuple(
                Dense(n, act) for n, act in zip(self.layer_sizes[1:], self.activations,
                                                strict=True)))
        shapes, offsets, pos = [], [], 0
        shape: tuple[int, ...] = (self.layer_sizes[0],)
        for layer in self.layers:
            out = layer.output_shape(shape)
            ws = layer.weight_shape(shape)
            nw, nb = (ws[0] * ws[1], ws[1]) if ws else (0, 0)
            offsets.append((pos, pos + nw, pos + nw + nb))
            shapes.append((shape, out, ws))
            pos += nw + nb
            shape = out
        object.__setattr__(self, "_shapes", tuple(shapes))
        object.__setattr__(self, "_io", tuple((i, o) for i, o, _ in shapes))
        object.__setattr__(self, "_offsets", tuple(offsets))
        object.__setattr__(self, "_first_weighted",
                           next(i for i, (w0, _, b1) in enumerate(offsets) if b1 > w0))

    @classmethod
    def build(
        cls,
        layer_sizes: Sequence[Any],
        *,
        hidden_activation: str | Sequence[str] = "tanh",
        output_activation: str = "identity",
        where: str = "Architecture",
    ) -> Architecture:
        """Validate the layers and activation names and return the architecture.

        Parameters
        ----------
        layer_sizes : sequence
            ``(input, hidden..., output)``. The input is ``n_in`` or an image shape
            ``(C, H, W)`` (then the network starts with a :class:`~gabp.layers.Reshape`
            of its flat input rows). A hidden or output entry is an int (a dense layer of that
            width) or a layer unit / table (:mod:`gabp.layers`, e.g. ``Conv2D(8, 3)`` or
            ``{"type": "maxpool2d", "size": 2}``). The last layer must be dense.
        hidden_activation : str or sequence of str
            Activation of the hidden layers that do not name their own (one name, or one per
            such layer).
        output_activation : str
            Activation of the last layer unless it names its own.
        """
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
            fail("layer_sizes", where, "a sequence of integers", layer_sizes, exc=TypeError)
        if len(layer_sizes) < 2:
            fail("layer_sizes", where, "a sequence of at least 2 sizes (n_in, n_out)", layer_sizes)
        first, rest = layer_sizes[0], list(layer_sizes[1:])
        if isinstance(first, (tuple, list)):
            if len(first) == 1:
                first = first[0]
            else:
                rest.insert(0, Reshape(tuple(first)))
                first = int(np.prod([check_int(v, "layer_sizes", where, low=1)
                                     for v in first]))
        n_in = check_int(first, "layer_sizes", where, low=1)
        if not any(isinstance(v, (Layer, dict)) for v in rest):
            return cls._build_dense((n_in, *rest), hidden_activation, output_activation, where)
        units = [layer_from_dict(v, where) if isinstance(v, (Layer, dict))
                 else Dense(check_int(v, "layer_sizes", where, low=1)) for v in rest]
        if not isinstance(units[-1], Dense):
            fail("layer_sizes", where, "a sequence whose last layer is dense (the output)",
                 type(units[-1]).__name__)
        free = [i for i, u in enumerate(units[:-1]) if isinstance(u, (Dense, Conv2D))
                and u.activation is None]
        if isinstance(hidden_activation, str):
            hidden = (hidden_activation,) * len(free)
        else:
            hidden = tuple(hidden_activation)
            if len(hidden) != len(free):
                fail("hidden_activation", where, f"a name or a sequence of {len(free)} names "
                     "(one per hidden layer without its own activation)", hidden_activation)
        resolved = list(units)
        for i, name in zip(free, hidden, strict=True):
            resolved[i] = replace(units[i], activation=name)
        for u in resolved[:-1]:
            check_choice(u.activation, HIDDEN_ACTIVATIONS, "hidden_activation", where)
        if units[-1].activation is None:
            resolved[-1] = replace(units[-1], activation=output_activation)
        check_choice(resolved[-1].activation, OUTPUT_ACTIVATIONS, "output_activation", where)
        sizes, shape = [n_in], (n_in,)
        try:
            for u in resolved:
                shape = u.output_shape(shape)
                sizes.append(int(np.prod(shape)))
        except ValueError as exc:
            raise ValueError(f"{exc} (in the layers of {where})") from None
        return cls(tuple(sizes), tuple(u.activation for u in resolved), tuple(resolved))

    @classmethod
    def _build_dense(cls, sizes: tuple, hidden_activation: Any, output_activation: str,
                     where: str) -> Architecture:
        sizes = tuple(check_int(s, "layer_sizes", where, low=1) for s in sizes)
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
    def is_dense(self) -> bool:
        """True when every layer is :class:`~gabp.layers.Dense` (what LM/BR can train)."""
        return all(isinstance(u, Dense) for u in self.layers)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample: ``(n_in,)`` or the image shape ``(C, H, W)``."""
        first = self.layers[0]
        return first.shape if isinstance(first, Reshape) else (self.n_inputs,)

    @property
    def n_layers(self) -> int:
        """Number of layers (weight layers for a dense network)."""
        return len(self.layers)

    @property
    def n_inputs(self) -> int:
        """Number of input values per sample (flat)."""
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        """Number of output units."""
        return self.layer_sizes[-1]

    @property
    def shapes(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """Per-layer ``(input shape, output shape)`` of one sample (images channels-last)."""
        return self._io  # type: ignore[attr-defined]

    @property
    def offsets(self) -> tuple[tuple[int, int, int], ...]:
        """``(w_start, b_start, b_end)`` of each layer in the flat parameter vector."""
        return self._offsets  # type: ignore[attr-defined]

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
        them writes into ``flat``. Layers without weights get empty ``(P, 0, 0)`` and
        ``(P, 1, 0)`` views.
        """
        P = flat.shape[0]
        layers = []
        for (w0, b0, b1), (_, _, ws) in zip(self.offsets, self._shapes, strict=True):  # type: ignore[attr-defined]
            fi, fo = ws or (0, 0)
            layers.append((flat[:, w0:b0].reshape(P, fi, fo), flat[:, b0:b1].reshape(P, 1, fo)))
        return layers

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description (layer sizes and activations, and layers if not dense)."""
        out: dict[str, Any] = {"layer_sizes": list(self.layer_sizes),
                               "activations": list(self.activations)}
        if not self.is_dense:
            out["layers"] = [layer_to_dict(u) for u in self.layers]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Architecture:
        """Rebuild (and validate) an architecture from :meth:`to_dict`."""
        if "layers" in d:
            return cls.build((d["layer_sizes"][0], *d["layers"]))
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
    for (W, b), layer, (in_shape, _) in zip(arch.views(flat), arch.layers, arch.shapes,
                                            strict=True):
        if W.size == 0 and b.size == 0:
            continue  # no parameters (pooling, flattening, reshaping)
        fi, fo = layer.init_fans(in_shape)
        act = layer.activation
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
    """Run the forward pass of every network (the same pass training uses).

    Parameters
    ----------
    params : ndarray of shape (P, n_params)
    X : ndarray of shape (n, n_in), shared by all networks

    Returns
    -------
    activations : list of ndarray
        ``[X, a_1, ..., a_L]``; ``a_l`` has shape ``(P, n, n_l)`` (images: ``(P, n, H, W,
        C)``, channels-last; layers before the first one with weights keep ``X``'s shared
        shape without the ``P`` axis).
    z_out : ndarray of shape (P, n, n_out)
        Pre-activation of the output layer (the losses need it for stable log terms).
    """
    return _Backprop(arch, params).forward(X)


#: Activations whose passes are compiled (``GABP_KERNELS``) in a dense hidden layer and in a
#: dense output layer (the output's derivative is applied by the loss, in NumPy).
_FUSED_HIDDEN = ("relu", "tanh", "sigmoid")
_FUSED_OUTPUT = ("softmax", "tanh", "sigmoid")
#: outputs whose MSE loss and dL/dz the compiled kernels compute (mse_delta, then f')
_MSE_OUTPUTS = ("identity", "tanh", "sigmoid")


def _alpha_column(alpha: float | np.ndarray, P: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(alpha, dtype=float).reshape(-1), (P,)).reshape(P, 1)


def _compiled_dense_op(name: str, output: bool, W: np.ndarray, b: np.ndarray, z: np.ndarray,
                       tmp: np.ndarray | None, bufs: _Workspace, k: dict
                       ) -> Callable[[np.ndarray], np.ndarray]:
    """A dense layer's forward step with the compiled passes (``name``: its activation).

    The product ``a_prev @ W`` goes into ``z``; the bias add and the activation follow, a
    hidden layer's written over ``z``, the output's into ``bufs.a_out`` (``z`` then keeps
    ``z + b`` for the loss). NumPy's ``exp`` and ``tanh`` stay in the middle, so the result is
    bit-identical to :meth:`Dense.linear` followed by the activation's ``apply``. A softmax
    output whose loss finishes it (``bufs.defer[0]``, set by each forward pass) stops at
    ``exp(z - max)`` and the row sums.
    """
    t = z.dtype.type
    out = bufs.a_out if output else z
    matmul, contiguous = np.matmul, np.ascontiguousarray  # the bias as (P, k): loops vectorize
    if name == "relu":
        kernel, zero = k["bias_relu"], t(0)

        def relu(a: np.ndarray) -> np.ndarray:
            matmul(a, W, out=z)
            kernel(z, contiguous(b[:, 0]), zero)
            return z
        return relu
    if name == "softmax":
        shift, rowmax, rowsum, ones, defer = (k["bias_shift"], bufs.rowmax, bufs.rowsum,
                                              bufs.ones, bufs.defer)

        def softmax_out(a: np.ndarray) -> np.ndarray:
            matmul(a, W, out=z)
            shift(z, contiguous(b[:, 0]), out, rowmax)  # z += b, row max, z - max
            if defer[0]:  # exp and the row sums; the loss's pass divides
                np.exp(out, out=out)
                matmul(out, ones, out=rowsum)  # softmax_shifted's product
                return out
            return softmax_shifted(out, rowsum)
        return softmax_out
    if name == "tanh":
        add = k["bias_add"]

        def tanh(a: np.ndarray) -> np.ndarray:
            matmul(a, W, out=z)
            add(z, contiguous(b[:, 0]))
            return np.tanh(z, out=out)
        return tanh
    # sigmoid: z += b and e = -|z|, NumPy's exp(e), then one pass for e / (1 + e)
    pre, e, one = k["sigmoid_pre"], tmp, t(1)
    post = k["sigmoid_post"] if not output else k["sigmoid_post_to"]

    def sigmoid(a: np.ndarray) -> np.ndarray:
        matmul(a, W, out=z)
        pre(z, contiguous(b[:, 0]), e)
        np.exp(e, out=e)
        if output:
            post(z, e, out, one)
        else:
            post(z, e, one)
        return out
    return sigmoid


class _Workspace:
    """Buffers of one mini-batch size: per-layer workspaces and the output layer's arrays.

    Backward-only buffers (the softmax output's delta and log-sum-exp, a dense layer's input
    gradient) are made on first use, so a forward-only pass (predictions, a GA's fitness)
    allocates little more than its activations.
    """

    def __init__(self, engine: _Backprop, n: int, dtype: np.dtype) -> None:
        arch, P, first = engine.arch, engine.P, engine.first
        #: the kernels' dtype: the compiled passes apply (engine.fused) to this workspace
        self.fuse = engine.kernels is not None and dtype == engine.params.dtype
        self.layers, self.tmp = [], []
        for i, (layer, (in_shape, out_shape)) in enumerate(zip(arch.layers, arch.shapes,
                                                               strict=True)):
            lead = (n,) if i <= first else (P, n)
            ws = layer.workspace(lead + in_shape, out_shape, P, dtype)
            ws["in_shape"] = in_shape
            if self.fuse and isinstance(layer, Dense) and layer.units == 1:
                ws["outer"] = engine.kernels["outer_rows"]  # its input gradient, compiled
            self.layers.append(ws)
            out_lead = (n,) if i < first else (P, n)
            needs_tmp = layer.activation in ("sigmoid", "leaky_relu", "tanh")
            self.tmp.append(np.empty(out_lead + out_shape, dtype) if needs_tmp else None)
        self.compiled_softmax = self.fuse and engine.fused[-1] == "softmax"
        self.defer = [False]  # the last forward pass left the softmax's division to the loss
        #: the layers' steps (built by the engine: its _forward_op, and _backward_op on first
        #: use, last layer first)
        self.forward_ops: list[Callable[[np.ndarray], np.ndarray]] = []
        self.backward_ops: list[Callable[[np.ndarray, list], Any]] | None = None
        self.loss_ops: dict[tuple, Callable] = {}  # the engine's _loss_op, per loss and Y dtype
        k = arch.n_outputs
        self.delta_mse: np.ndarray | None = None  # the compiled MSE's dL/dz, on first use
        self.a_out = None if engine.out_act == "identity" else np.empty((P, n, k), dtype)
        if engine.out_act == "softmax":
            self.rowmax, self.rowsum = np.empty((P, n), dtype), np.empty((P, n), dtype)
            self.ones = np.ones(k, dtype)  # the row sums' product
            self.lse: np.ndarray | None = None
            self.delta_out: np.ndarray | None = None


class _Backprop:
    """The one forward and backward pass over a population, with reused buffers.

    Built once per :func:`train` call (or per :func:`forward` / :func:`loss_and_grad` call):
    the per-layer views of ``params`` and ``grad``, the weight slices for the L2 term and,
    per mini-batch size, every layer's buffers (:class:`_Workspace`), so the hot loop
    allocates almost nothing. The layers (:mod:`gabp.layers`) do their linear parts; this
    class applies the activations (:data:`gabp.activations.ACTIVATIONS`) and the loss
    (:data:`gabp.losses.LOSSES`), each defined once.
    """

    def __init__(
        self,
        arch: Architecture,
        params: np.ndarray,
        grad: np.ndarray | None = None,
        alpha: float | np.ndarray = 0.0,
    ) -> None:
        self.arch = arch
        self.params, self.grad = params, grad
        self.P = params.shape[0]
        self.units = arch.layers
        self.layers = arch.views(params)
        self.glayers = arch.views(grad) if grad is not None else None
        self.acts = [ACTIVATIONS[name] for name in arch.activations]
        self.hidden = arch.activations[:-1]
        self.out_act = arch.activations[-1]
        self.last = len(self.units) - 1
        #: the first layer with weights: layers before it see the shared input, and the
        #: backward pass stops there
        self.first = arch._first_weighted  # type: ignore[attr-defined]
        self.alpha: np.ndarray | None = None
        if not (isinstance(alpha, (int, float)) and alpha == 0) and np.any(alpha):
            self.alpha = _alpha_column(alpha, self.P).astype(params.dtype)
            self.weights = [(params[:, w0:b0], grad[:, w0:b0]) for w0, b0, _ in arch.offsets
                            if b0 > w0]
        self._buffers: dict[tuple, _Workspace] = {}
        self._last: tuple | None = None  # (n, dtype, workspace) of the last forward pass
        #: compiled kernels on: the compiled passes, and per layer the activation whose
        #: passes are compiled (a dense layer's "relu", "tanh" or "sigmoid", hidden; a dense
        #: output's "softmax", "tanh" or "sigmoid"; None: NumPy's passes)
        # a bad value raises here, before any training; a forward-only engine (predictions,
        # fitness) uses the kernels only if a training in this process prepared them
        self.kernels = prepare(params.dtype) if grad is not None else ready(params.dtype)
        self.fused: list[str | None] = [None] * len(self.units)
        if self.kernels is not None:
            for i, (unit, name) in enumerate(zip(self.units, arch.activations, strict=True)):
                if isinstance(unit, Dense) and name in (_FUSED_HIDDEN if i < self.last
                                                        else _FUSED_OUTPUT):
                    self.fused[i] = name

    def _get_buffers(self, n: int, dtype: np.dtype) -> _Workspace:
        last = self._last
        if last is not None and last[0] == n and last[1] == dtype:  # the usual mini-batch
            return last[2]
        key = (n, dtype)
        bufs = self._buffers.get(key)
        if bufs is None:
            if len(self._buffers) > 4:  # only a few batch sizes occur in one training run
                self._buffers.clear()
            bufs = self._buffers[key] = _Workspace(self, n, dtype)
            bufs.forward_ops = [self._forward_op(i, bufs) for i in range(len(self.units))]
        self._last = (n, dtype, bufs)
        return bufs

    def forward(self, X: np.ndarray, *, defer_softmax: bool = False
                ) -> tuple[list[np.ndarray], np.ndarray]:
        """Activations ``[X, a_1, ..., a_L]`` and the output pre-activation (buffers).

        Runs the workspace's forward steps (:meth:`_forward_op`, chosen once per batch size).
        ``defer_softmax`` (training with the compiled cross-entropy, :meth:`__call__`): a
        compiled softmax output stops at ``exp(z - max)`` and its row sums, and the loss's
        pass divides (``defer[0]`` of the workspace says whether it did).
        """
        dtype = self.params.dtype
        if X.dtype != dtype:
            dtype = np.result_type(dtype, X.dtype)
        bufs = self._get_buffers(X.shape[0], dtype)
        self._bufs = bufs
        bufs.defer[0] = defer_softmax and bufs.compiled_softmax
        acts = [X]
        a = X
        for op in bufs.forward_ops:
            a = op(a)
            acts.append(a)
        self._acts = acts
        return acts, bufs.layers[-1]["z"]  # the last layer is dense

    def _forward_op(self, i: int, bufs: _Workspace) -> Callable[[np.ndarray], np.ndarray]:
        """Layer ``i``'s forward step for ``bufs``: a function of its input, returning its output.

        Every choice (compiled passes or NumPy's, the activation, the output's softmax) is
        made here, once per batch size, so a mini-batch runs only the array operations. The
        steps hold the buffers and views they use, never the engine (no reference cycle).
        """
        unit, (W, b), ws, tmp = self.units[i], self.layers[i], bufs.layers[i], bufs.tmp[i]
        name = self.fused[i] if bufs.fuse else None
        if name is not None:
            return _compiled_dense_op(name, i == self.last, W, b, ws["z"], tmp, bufs,
                                      self.kernels)
        linear = unit.linear
        if i < self.last:
            if self.hidden[i] == "identity":
                return lambda a: linear(a, W, b, ws)
            apply = self.acts[i].apply

            def hidden(a: np.ndarray) -> np.ndarray:
                z = linear(a, W, b, ws)
                return apply(z, z, tmp)
            return hidden
        if self.out_act == "identity":
            return lambda a: linear(a, W, b, ws)
        a_out = bufs.a_out
        if self.out_act == "softmax":
            rowmax, rowsum = bufs.rowmax, bufs.rowsum
            return lambda a: softmax(linear(a, W, b, ws), a_out, rowmax=rowmax, rowsum=rowsum)
        apply = self.acts[i].apply
        return lambda a: apply(linear(a, W, b, ws), a_out, tmp)

    def _backward_op(self, i: int, bufs: _Workspace) -> Callable[[np.ndarray, list], Any]:
        """Layer ``i``'s backward step: ``(delta, acts) -> dL/d(input)`` (or ``None``).

        Applies the hidden activation's derivative to ``delta = dL/da`` (compiled where the
        forward pass's was, for a delta of the kernels' dtype), then the layer's gradients.
        """
        unit, W, ws, tmp = self.units[i], self.layers[i][0], bufs.layers[i], bufs.tmp[i]
        layer_step = unit.backward_step(W, *self.glayers[i], ws, i > self.first)
        fused = self.fused[i] if i < self.last else None  # the loss did the output's
        if fused is None and (i == self.last or self.hidden[i] == "identity"):
            return lambda delta, acts: layer_step(delta, acts[i])
        numpy_derivative, dtype = self.acts[i].mul_derivative, self.params.dtype
        if fused is None:
            def numpy_step(delta: np.ndarray, acts: list) -> Any:
                numpy_derivative(delta, acts[i + 1], tmp)
                return layer_step(delta, acts[i])
            return numpy_step
        t = dtype.type
        kernel = self.kernels[f"{fused}_grad"]
        args = (t(0), t(1)) if fused == "relu" else (t(1),)
        any_layout = fused == "relu"  # the other kernels walk one flat, contiguous run

        def step(delta: np.ndarray, acts: list) -> Any:
            if delta.dtype == dtype and (any_layout or delta.flags.c_contiguous):
                kernel(delta, acts[i + 1], *args)  # delta *= f'(z), from the output a = f(z)
            else:
                numpy_derivative(delta, acts[i + 1], tmp)
            return layer_step(delta, acts[i])
        return step

    def loss(self, Y: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
        """Data loss of the last :meth:`forward` on targets ``Y`` and ``dL/dz`` of the output."""
        bufs = self._bufs
        deferred = bufs.defer[0]
        key = (loss, Y.dtype, deferred)
        op = bufs.loss_ops.get(key)
        if op is None:
            op = bufs.loss_ops[key] = self._loss_op(loss, Y.dtype, deferred, bufs)
        bufs.defer[0] = False  # a deferred softmax is finished by the loss's pass
        return op(Y, self._acts[-1])

    def _loss_op(self, loss: str, y_dtype: np.dtype, deferred: bool, bufs: _Workspace
                 ) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """The loss step for targets of ``y_dtype``: ``(Y, output) -> (loss, dL/dz)``."""
        z, P, out_act, kernels = bufs.layers[-1]["z"], self.P, self.out_act, self.kernels
        dtype, t = z.dtype, z.dtype.type
        if loss == "cross_entropy" and out_act == "softmax":
            if bufs.delta_out is None:
                bufs.lse, bufs.delta_out = np.empty(z.shape[:-1], dtype), np.empty_like(z)
            lse, delta, rowsum, rowmax = bufs.lse, bufs.delta_out, bufs.rowsum, bufs.rowmax
            if deferred:  # the softmax's division, loss and dL/dz in one compiled pass
                kernel, n = kernels["softmax_ce"], z.shape[-2]
                n_rows, inv_n = t(n), t(1.0 / n)

                def compiled_ce(Y: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                    value = np.empty(P, dtype)
                    kernel(z, a, rowsum, rowmax, Y, n_rows, inv_n, delta, value)
                    return value, delta
                return compiled_ce
            ce = LOSSES[loss]

            def numpy_ce(Y: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                # log sum exp(z) = rowmax + log(rowsum), from the forward pass's softmax
                np.log(rowsum, out=lse)
                np.add(lse, rowmax, out=lse)
                return ce(z, a, Y, out_act, lse=lse, out=delta)
            return numpy_ce
        out = z if out_act == "identity" else bufs.a_out
        if (loss == "mse" and kernels is not None and out_act in _MSE_OUTPUTS
                and dtype == y_dtype == self.params.dtype and out.flags.c_contiguous):
            if bufs.delta_mse is None:
                bufs.delta_mse = np.empty_like(out)
            kernel, delta = kernels["mse_delta"], bufs.delta_mse
            n_el = out.shape[-2] * out.shape[-1]
            scale, n_el_t, one = t(2.0 / n_el), t(n_el), t(1)
            # dL/dz = dL/da f'(z), from the output a = f(z)
            derivative = None if out_act == "identity" else kernels[f"{out_act}_grad"]

            def compiled_mse(Y: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                value = np.empty(P, dtype)  # loss and dL/da in one pass
                kernel(a, Y, scale, n_el_t, delta, value)
                if derivative is not None:
                    derivative(delta, a, one)
                return value, delta
            return compiled_mse
        fn = LOSSES[loss]
        return lambda Y, a: fn(z, a, Y, out_act)

    def backward(self, delta: np.ndarray) -> None:
        """Write the gradient of the last :meth:`forward` into ``grad`` from ``delta = dL/dz``."""
        bufs = self._bufs
        ops = bufs.backward_ops
        if ops is None:  # built on the first backward pass of this batch size
            ops = bufs.backward_ops = [self._backward_op(i, bufs)
                                       for i in range(self.last, self.first - 1, -1)]
        acts = self._acts
        for op in ops:
            delta = op(delta, acts)

    def penalty(self, value: np.ndarray) -> np.ndarray:
        """``value`` plus the L2 term, whose gradient ``alpha W`` is added to ``grad``."""
        if self.alpha is None:
            return value
        # L2 on weights only: grad_W += alpha W, objective += alpha / 2 * sum(W ** 2)
        sq = np.zeros(self.P, dtype=np.result_type(value.dtype, self.params.dtype))
        for w, gw in self.weights:
            sq += np.einsum("pi,pi->p", w, w)
            gw += self.alpha * w
        return value + 0.5 * self.alpha[:, 0] * sq

    def __call__(self, X: np.ndarray, Y: np.ndarray, loss: str) -> np.ndarray:
        """Objective of every network on ``(X, Y)``; the gradient is written to ``grad``."""
        # the compiled cross-entropy finishes the softmax (its dtype: the kernels')
        self.forward(X, defer_softmax=loss == "cross_entropy" and Y.dtype == self.params.dtype)
        value, delta = self.loss(Y, loss)
        self.backward(delta)
        return self.penalty(value)


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
    """Data loss (no L2 term) of every network on ``(X, Y)``: shape ``(P,)``.

    Networks with convolution layers are evaluated in chunks of :data:`EVAL_CHUNK` rows
    (their im2col buffers then stay in cache); every loss is a mean over samples, so the
    chunks' losses weighted by their sizes give the same value.
    """
    n = X.shape[0]
    engine = _Backprop(arch, params)
    if arch.is_dense or n <= EVAL_CHUNK:
        acts, z = engine.forward(X)
        return LOSSES[loss](z, acts[-1], Y, arch.activations[-1])[0]
    total = np.zeros(params.shape[0])
    for start in range(0, n, EVAL_CHUNK):
        acts, z = engine.forward(X[start : start + EVAL_CHUNK])
        value = LOSSES[loss](z, acts[-1], Y[start : start + EVAL_CHUNK], arch.activations[-1])[0]
        total += value * (z.shape[1] / n)
    return total


#: Rows per forward pass when a network with convolution layers is evaluated on many rows.
EVAL_CHUNK = 256


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


def check_inputs(arch: Architecture, X: Any, name: str, where: str, *,
                 dtype: Any = np.float64) -> np.ndarray:
    """Validate network inputs and return them as flat rows ``(n, n_in)``.

    ``X`` is ``(n, n_in)``, or for a network with image input of shape ``(C, H, W)`` also
    ``(n, C, H, W)`` (flattened row-major, so both forms mean the same pixels).
    """
    shape = arch.input_shape
    X = check_array(X, name, where, ndim=(2, 4) if len(shape) == 3 else 2, dtype=dtype)
    if X.ndim == 4:
        if X.shape[1:] != shape:
            fail(name, where, f"images of shape (n, {', '.join(map(str, shape))})", X)
        X = X.reshape(X.shape[0], -1)
    if X.shape[1] != arch.n_inputs:
        extra = f" or images of shape (n, {', '.join(map(str, shape))})" if len(shape) == 3 else ""
        fail(name, where, f"an array with {arch.n_inputs} columns (the network's inputs){extra}",
             X)
    return X


class Network:
    """A population of ``n_networks`` same-shaped feed-forward networks.

    Parameters
    ----------
    layer_sizes : sequence
        ``(n_in, hidden..., n_out)``. Hidden and output entries are widths of dense layers or
        layer units from :mod:`gabp.layers`; the input may be an image shape ``(C, H, W)``,
        e.g. ``((1, 8, 8), Conv2D(8, 3), MaxPool2D(2), Flatten(), 10)``.
    hidden_activation : str or sequence of str
        One of ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``identity``; for the
        hidden layers that do not name their own.
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
        layer_sizes: Sequence[Any],
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
        self.params = self._check_params(params)

    def _check_params(self, params: Any) -> np.ndarray:
        params = np.asarray(params)
        if params.dtype.name not in DTYPES:
            params = params.astype(np.float64)
        if params.ndim == 1:
            params = params[None, :]
        if params.ndim != 2 or params.shape[1] != self.arch.n_params:
            fail("params", "Network", f"an array of shape (P, {self.arch.n_params})", params)
        return params

    @classmethod
    def from_architecture(cls, arch: Architecture, params: np.ndarray) -> Network:
        """Wrap existing parameters (not copied) of shape ``(P, arch.n_params)``."""
        net = cls.__new__(cls)
        net.arch = arch
        net.params = net._check_params(params)
        return net

    @property
    def n_networks(self) -> int:
        """Population size ``P``."""
        return self.params.shape[0]

    @property
    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-layer ``(W, b)`` views into :attr:`params`."""
        return self.arch.views(self.params)

    def _check_X(self, X: Any, where: str) -> np.ndarray:
        return check_inputs(self.arch, X, "X", where, dtype=self.params.dtype)

    def forward(self, X: Any) -> np.ndarray:
        """Outputs of every network: shape ``(P, n, n_out)``.

        ``X`` is ``(n, n_in)`` or, for image input, ``(n, C, H, W)``.
        """
        X = self._check_X(X, "Network.forward")
        with np.errstate(over="ignore", invalid="ignore"):
            return forward(self.arch, self.params, X)[0][-1]

    def predict(self, X: Any, *, member: int = 0) -> np.ndarray:
        """Outputs of network ``member``: shape ``(n, n_out)``."""
        member = check_int(member, "member", "Network.predict", low=0,
                           high=self.n_networks - 1)
        return self.forward(X)[member]

    def layer_outputs(self, X: Any, *, member: int = 0) -> list[np.ndarray]:
        """Every layer's output (after its activation) for network ``member``.

        Returns one array per layer: ``(n, C, H, W)`` for image-shaped outputs (channels
        first, the feature maps), ``(n, k)`` for flat ones.
        """
        X = self._check_X(X, "Network.layer_outputs")
        check_int(member, "member", "Network.layer_outputs", low=0, high=self.n_networks - 1)
        with np.errstate(over="ignore", invalid="ignore"):
            acts = forward(self.arch, self.params[member : member + 1], X)[0][1:]
        out = []
        for a, (_, shape) in zip(acts, self.arch.shapes, strict=True):
            a = a[0] if a.ndim == len(shape) + 2 else a
            out.append(np.moveaxis(a, -1, 1).copy() if len(shape) == 3 else a.copy())
        return out

    def __repr__(self) -> str:
        if self.arch.is_dense:
            desc = "-".join(str(s) for s in self.arch.layer_sizes)
            acts = f"activations={list(self.arch.activations)}"
        else:
            desc = f"input={self.arch.input_shape}"
            acts = "layers=[" + ", ".join(repr(u) for u in self.arch.layers) + "]"
        return (f"Network({desc}, {acts}, n_networks={self.n_networks}, "
                f"n_params={self.arch.n_params})")


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
