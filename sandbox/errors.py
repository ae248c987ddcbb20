"""Typed API errors raised by the sandbox handlers and rendered as the service's error body.

The real service answers failures with ``{"error_code": ..., "message": ...}`` and an HTTP status;
the SDK (``databricks/sdk/errors/platform.py``: ``ERROR_CODE_MAPPING`` and ``STATUS_CODE_MAPPING``)
turns that pair into ``InvalidParameterValue``, ``ResourceDoesNotExist``, ``PermissionDenied``...
Handlers raise the subclasses below; the app renders them with :meth:`ApiError.body`.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answered to the client as ``{"error_code", "message"}`` with ``status``.

    Source: Databricks REST API error responses (docs: "API error codes").
    """

    status: int = 500
    error_code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, error_code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        if status is not None:
            self.status = status

    def body(self) -> dict:
        """The JSON error body the service sends: ``{"error_code": str, "message": str}``."""
        return {"error_code": self.error_code, "message": self.message}


class InvalidParameterValue(ApiError):
    """HTTP 400 ``INVALID_PARAMETER_VALUE`` (SDK: ``errors.InvalidParameterValue``)."""

    status = 400
    error_code = "INVALID_PARAMETER_VALUE"


class MalformedRequest(ApiError):
    """HTTP 400 ``MALFORMED_REQUEST`` (SDK: ``errors.BadRequest``): unparsable body or wrong types."""

    status = 400
    error_code = "MALFORMED_REQUEST"


class InvalidState(ApiError):
    """HTTP 400 ``INVALID_STATE`` (SDK: ``errors.InvalidState``), e.g. repairing an active run."""

    status = 400
    error_code = "INVALID_STATE"


class ResourceDoesNotExist(ApiError):
    """HTTP 404 ``RESOURCE_DOES_NOT_EXIST`` (SDK: ``errors.ResourceDoesNotExist``, a ``NotFound``)."""

    status = 404
    error_code = "RESOURCE_DOES_NOT_EXIST"


class ResourceAlreadyExists(ApiError):
    """HTTP 400 ``RESOURCE_ALREADY_EXISTS`` (SDK: ``errors.ResourceAlreadyExists``), workspace import/mkdirs."""

    status = 400
    error_code = "RESOURCE_ALREADY_EXISTS"


class PermissionDenied(ApiError):
    """HTTP 403 ``PERMISSION_DENIED`` (SDK: ``errors.PermissionDenied``)."""

    status = 403
    error_code = "PERMISSION_DENIED"


class Unauthenticated(ApiError):
    """HTTP 401 ``UNAUTHENTICATED`` (SDK: ``errors.Unauthenticated``): no bearer token."""

    status = 401
    error_code = "UNAUTHENTICATED"


class NotFoundEndpoint(ApiError):
    """HTTP 404 ``ENDPOINT_NOT_FOUND`` for paths the sandbox does not serve (SDK: ``errors.NotFound``)."""

    status = 404
    error_code = "ENDPOINT_NOT_FOUND"
