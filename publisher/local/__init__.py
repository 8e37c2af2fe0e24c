"""This machine: the Docker engine, the payload's binaries, git, and the on-disk cache."""
