"""Domain errors. The service maps each to one gRPC status code; messages are for people."""

from __future__ import annotations


class SceneSearchError(Exception):
    """Base class; carries a message a person can act on."""


class InvalidArgument(SceneSearchError):
    pass


class NotFound(SceneSearchError):
    pass


class PermissionDenied(SceneSearchError):
    pass


class FailedPrecondition(SceneSearchError):
    pass


class ResourceExhausted(SceneSearchError):
    pass


class OutOfRange(SceneSearchError):
    """A position past the end of something, e.g. a byte offset past the end of a file."""


class UnsupportedMedia(InvalidArgument):
    """The file is not a decodable video (text, audio only, truncated beyond use...)."""


class ModelLoadError(SceneSearchError):
    pass


class ModelMismatch(SceneSearchError):
    pass
