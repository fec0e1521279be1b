"""ARM-style errors: every problem carries the ARM code, message and (optionally) target (semantics §7.4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opennsg.model.codes import Code


@dataclass(frozen=True, slots=True)
class ArmError:
    """One problem, as one entry of an ARM error's ``details``."""

    code: str
    message: str
    target: str | None = None
    #: What the user can do about it, beside ARM's own message (ARM's ``additionalInfo`` of type ``Hint``).
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            out["target"] = self.target
        if self.hint is not None:
            out["additionalInfo"] = [{"type": "Hint", "info": {"message": self.hint}}]
        return out


#: Detail codes ARM reports under a generic top level (semantics §7.5: ``InvalidRequestFormat`` / "Cannot parse the
#: request." with details ``MissingJsonReferenceId``).
REQUEST_FORMAT_ENVELOPES: dict[str, tuple[str, str]] = {
    Code.MISSING_REFERENCE_ID: (Code.INVALID_REQUEST_FORMAT, "Cannot parse the request."),
}


@dataclass(frozen=True, slots=True)
class ArmErrorResponse:
    """The ``{"error": {code, message, details}}`` envelope; a single problem is its own top level."""

    code: str
    message: str
    details: tuple[ArmError, ...] = field(default=())
    target: str | None = None
    hint: str | None = None

    @classmethod
    def from_errors(cls, errors: Iterable[ArmError]) -> ArmErrorResponse:
        """One problem becomes the top level; several share the first one's code and all go to ``details``."""
        problems = tuple(errors)
        if not problems:
            raise ValueError("an error response needs at least one error")
        first = problems[0]
        envelope = REQUEST_FORMAT_ENVELOPES.get(first.code)
        if envelope is not None:
            return cls(*envelope, problems)
        if len(problems) == 1:
            return cls(first.code, first.message, (), first.target, first.hint)
        return cls(first.code, first.message, problems, first.target)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            body["target"] = self.target
        body["details"] = [d.to_json() for d in self.details]
        if self.hint is not None:
            body["additionalInfo"] = [{"type": "Hint", "info": {"message": self.hint}}]
        return {"error": body}


class OpenNsgError(Exception):
    """Bad input: carries every problem found, so callers can report them all at once and apply nothing."""

    def __init__(self, errors: Iterable[ArmError]) -> None:
        self.errors: tuple[ArmError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("OpenNsgError needs at least one ArmError")
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in self.errors))

    @property
    def response(self) -> ArmErrorResponse:
        return ArmErrorResponse.from_errors(self.errors)
