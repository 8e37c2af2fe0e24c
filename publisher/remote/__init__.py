"""The registry client, as small layers: transport (send, redirects) ← retry ← auth ← the API (blobs, manifests, tags)."""
