"""HTTP errors in ARM's envelope ``{"error": {"code", "message", "target"?, "details"}}`` (semantics §7.4)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opennsg.model.errors import ArmError, ArmErrorResponse, OpenNsgError
from opennsg.model.validation import Code


class ApiError(Exception):
    """A request that fails with an ARM error code; raised anywhere in a handler, rendered by the app."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Iterable[ArmError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = tuple(details)
        self.headers = headers or {}

    @classmethod
    def invalid(cls, error: OpenNsgError) -> ApiError:
        """400 carrying every validation problem: the first at the top, all of them in ``details``."""
        response = error.response
        return cls(400, response.code, response.message, error.errors)

    def body(self) -> dict[str, Any]:
        return ArmErrorResponse(self.code, self.message, self.details).to_json()


def not_found(resource_type: str, name: str, group: str | None) -> ApiError:
    where = f" under resource group '{group}'" if group else ""
    return ApiError(404, Code.RESOURCE_NOT_FOUND, f"The Resource '{resource_type}/{name}'{where} was not found.")


def group_not_found(group: str) -> ApiError:
    return ApiError(404, Code.RESOURCE_GROUP_NOT_FOUND, f"Resource group '{group}' could not be found.")


def bad_request(message: str, code: str = Code.INVALID_REQUEST_FORMAT) -> ApiError:
    return ApiError(400, code, message)
