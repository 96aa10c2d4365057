"""gabp: genetic-algorithm-optimized backpropagation networks.

The core is a NumPy backpropagation trainer that trains a whole population of same-shaped
networks at once (:class:`Network`, :func:`train`); the genetic algorithm evolves the same
flat parameter arrays.
"""

from .network import Architecture, Network, init_params, load_network, save_network
from .trainer import History, train

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "History",
    "Network",
    "__version__",
    "init_params",
    "load_network",
    "save_network",
    "train",
]
