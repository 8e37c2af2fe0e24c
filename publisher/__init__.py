"""publisher: publish a family of container images from one declarative matrix."""

__version__ = "0.1.0"
