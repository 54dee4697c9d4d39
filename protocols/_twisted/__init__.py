"""Adapters shared by every protocol: TLS contexts, the HTTP root, endpoint helpers."""
