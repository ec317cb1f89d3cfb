"""scenesearch: semantic scene search in video over gRPC."""

__version__ = "0.1.0"
