"""Receivers: sockets in, batches of documents out to the pipeline's feed."""
