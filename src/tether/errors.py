"""The one error tree of tether.

    TetherError                      (500 server_error)
    ├── InvalidRequest               (400 invalid_request_error)
    │   ├── PreviousResponseNotFound (400 previous_response_not_found)
    │   ├── ModelNotFound            (404 model_not_found)
    │   ├── MethodNotAllowed         (405 method_not_allowed)
    │   ├── RequestTimeout           (408 request_timeout: a body too slow to arrive)
    │   ├── PayloadTooLarge          (413 payload_too_large)
    │   └── UnsupportedEncoding      (415 unsupported_content_encoding)
    ├── AuthenticationFailed         (401 authentication_error / invalid_api_key)
    ├── PermissionDenied             (403 permission_error)
    ├── NotFound                     (404 invalid_request_error / not_found)
    ├── UpstreamError                (502 upstream_error), or the upstream's own 4xx
    │   └── UpstreamTimeout          (504 upstream_error / timeout)
    ├── SealingUnavailable           (501 encryption_keys_not_configured)
    ├── StorageUnavailable           (503 service_unavailable)
    └── ConfigError                  (not an HTTP error: stops start-up, exit 2)

Every error carries what the OpenAI error body needs; `api.errors` renders it.
Library errors are translated into this tree at the boundary (`raise ... from`).
"""

from __future__ import annotations


class TetherError(Exception):
    """Root of every error tether raises on purpose."""

    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(TetherError):
    status = 400
    type = "invalid_request_error"


class PreviousResponseNotFound(InvalidRequest):
    code = "previous_response_not_found"

    def __init__(self, response_id: str):
        super().__init__(
            f"Previous response with id '{response_id}' not found.",
            param="previous_response_id",
        )


class ModelNotFound(InvalidRequest):
    status = 404
    code = "model_not_found"

    def __init__(self, model: str):
        super().__init__(
            f"The model '{model}' does not exist or you do not have access to it.",
            param="model",
        )


class AuthenticationFailed(TetherError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(TetherError):
    status = 403
    type = "permission_error"


class NotFound(TetherError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "payload_too_large"


class RequestTimeout(InvalidRequest):
    status = 408
    code = "request_timeout"


class MethodNotAllowed(InvalidRequest):
    status = 405
    code = "method_not_allowed"


class UnsupportedEncoding(InvalidRequest):
    """A request body in a content coding tether cannot decode (RFC 9110: 415)."""

    status = 415
    code = "unsupported_content_encoding"


class UpstreamError(TetherError):
    """The provider failed; `status` is 502 unless the provider's 4xx is passed on."""

    status = 502
    type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        type: str = "upstream_error",
        code: str | None = None,
    ):
        super().__init__(message, code=code)
        self.status = status
        self.type = type


class UpstreamTimeout(UpstreamError):
    def __init__(self, message: str):
        super().__init__(message, status=504, code="timeout")


class SealingUnavailable(TetherError):
    """No key to seal with where none can be kept safely (a shared database)."""

    status = 501
    code = "encryption_keys_not_configured"


class StorageUnavailable(TetherError):
    status = 503
    type = "service_unavailable"


class ConfigError(TetherError):
    """A bad configuration; start-up stops with one line naming the key."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"config error: {key}: {reason}", param=key)
        self.key = key
        self.reason = reason
