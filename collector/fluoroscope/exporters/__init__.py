"""Exporters: stored traces forwarded to other backends."""
