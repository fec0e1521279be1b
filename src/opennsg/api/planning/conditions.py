"""Conditional requests: ``If-Match`` / ``If-None-Match`` checked against a stored ETag."""

from __future__ import annotations

import dataclasses

from opennsg.api.errors import ApiError
from opennsg.model.validation import Code


@dataclasses.dataclass(frozen=True, slots=True)
class Preconditions:
    """``If-Match`` / ``If-None-Match`` of the request (``*`` or an ETag), checked against the stored ETag."""

    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, etag: str | None) -> None:
        if self.if_match is not None and (etag is None or not _etag_in(self.if_match, etag)):
            raise ApiError(
                412, Code.PRECONDITION_FAILED, "The condition specified using HTTP conditional header(s) is not met."
            )
        if self.if_none_match is not None and etag is not None and _etag_in(self.if_none_match, etag):
            raise ApiError(
                412, Code.PRECONDITION_FAILED, "The condition specified using HTTP conditional header(s) is not met."
            )


def _bare(etag: str) -> str:
    text = etag.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')


def _etag_in(header: str, etag: str) -> bool:
    wanted = {_bare(part) for part in header.split(",") if part.strip()}
    return "*" in wanted or _bare(etag) in wanted
