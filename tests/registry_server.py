"""Loopback registries for tests (filled in by the registry client work)."""
