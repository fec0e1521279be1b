"""Where a resource read from Terraform came from, so every problem reads ``file:line: block "name": message``."""

from __future__ import annotations

from dataclasses import dataclass

from opennsg.model.errors import ArmError


@dataclass(frozen=True, slots=True)
class TfOrigin:
    """A block (``file``, ``line``, ``title`` such as ``security_rule "ssh"``) and the blocks inside the resource's
    ARM JSON paths came from (``properties.subnets[1]`` -> the ``azurerm_subnet`` that made it), longest first."""

    file: str
    line: int
    title: str
    parts: tuple[tuple[str, TfOrigin], ...] = ()
    #: From plan or state JSON (titles are resource addresses; values may be unknown until apply).
    plan: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def inner(self, relative: str | None) -> TfOrigin:
        """The origin of the part of the resource a JSON path names."""
        path = relative or ""
        best: TfOrigin = self
        best_length = -1
        for prefix, origin in self.parts:
            if (path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")) and len(
                prefix
            ) > best_length:
                best, best_length = (
                    origin.inner(path[len(prefix) :].lstrip(".")) if origin.parts else origin,
                    len(prefix),
                )
        return best

    def locate(self, relative: str | None) -> str:
        found = self.inner(relative)
        return f"{found.where}: {found.title}"

    def report(self, error: ArmError, relative: str | None) -> ArmError:
        found = self.inner(relative)
        return ArmError(error.code, f"{found.where}: {found.title}: {error.message}", found.where, error.hint)


__all__ = ["TfOrigin"]
