"""What the flow-log reader reports: the problems it found, with their places, and its counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the reader could not use, and where: a file and a position inside it."""

    file: str
    position: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "position": self.position, "message": self.message}


@dataclass(slots=True)
class ReadStats:
    files: int = 0
    records: int = 0
    tuples: int = 0
    malformed_records: int = 0
    malformed_tuples: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "tuples": self.tuples,
            "malformedRecords": self.malformed_records,
            "malformedTuples": self.malformed_tuples,
            "problems": [p.to_json() for p in self.problems],
        }
