"""gabp: genetic-algorithm-optimized backpropagation networks."""

__version__ = "0.1.0"
