"""Prometheus metrics (`--metrics-port`): take a `Metrics` (base.py; a no-op when off) and time a
backend call with `with metrics.backend("milvus", "search"): ...`."""
