"""OCI values and pure transforms: references, digests, manifests and indexes, recipes, canonical layers. No I/O."""
