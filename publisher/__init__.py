"""publisher: publish a family of container images from one declarative matrix."""

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it from here
# The distribution's name on the package index (the command stays `publisher`), and its page there:
# the project URL of the package metadata (pyproject's [project.urls], tests/test_layout.py checks
# they agree). The SBOM namespace, the provenance build type and the tool's URI derive from it.
DISTRIBUTION = "image-family-publisher"
PROJECT_URL = f"https://pypi.org/project/{DISTRIBUTION}/"
