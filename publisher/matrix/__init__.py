"""What the maintainer wrote: matrix.yaml read strictly (source, schema, payload, expand), as values."""
