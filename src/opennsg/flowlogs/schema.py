"""What the flow-log reader yields as Arrow batches: their schema (its problems and counts: ``problems``)."""

from __future__ import annotations

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
