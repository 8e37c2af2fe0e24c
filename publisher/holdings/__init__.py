"""What the registries hold, as publisher reads and remembers it: target repositories, the bases, the dry-run's previews.

Built on remote/ (the client); the steps ask here, never the client directly for state."""
