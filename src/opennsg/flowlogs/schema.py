"""What the flow-log reader yields and reports: the batch schema, the problems it found, its counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

_LABEL = pa.dictionary(pa.int32(), pa.string())
#: Columns of every batch the reader yields (one row per flow tuple). What a whole ``flowTuples`` list shares
#: (file, format, NSG or flow log, ACL, MAC, rule) is dictionary-encoded: it costs nothing per tuple.
SCHEMA = pa.schema(
    [
        ("file", _LABEL),
        ("format", _LABEL),
        ("resource_id", _LABEL),
        ("acl_id", _LABEL),
        ("mac", _LABEL),
        ("rule", _LABEL),
        ("time", pa.timestamp("ms", tz="UTC")),
        ("src_ip", pa.string()),
        ("dst_ip", pa.string()),
        ("src_port", pa.int32()),
        ("dst_port", pa.int32()),
        ("protocol", pa.int16()),
        ("direction", pa.string()),
        ("decision", pa.string()),
        ("state", pa.string()),
        ("encryption", pa.string()),
        ("packets_src_to_dst", pa.int64()),
        ("bytes_src_to_dst", pa.int64()),
        ("packets_dst_to_src", pa.int64()),
        ("bytes_dst_to_src", pa.int64()),
    ]
)


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
