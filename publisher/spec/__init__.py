"""What the maintainer wrote: matrix.yaml read strictly (source, matrix, expand) and Dockerfiles rendered from it."""
