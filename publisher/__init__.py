"""publisher: publish a family of container images from one declarative matrix."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("publisher")  # the installed distribution's, so it never drifts from pyproject.toml
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
