"""Network Watcher flow-log resources (semantics §9)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse.reader import Reader, properties_of
from opennsg.model.flowlog import DEFAULT_FORMAT_VERSION, FlowLog, FlowLogFormatType, frozen_json
from opennsg.model.validation import Code


def _json_object(obj: Mapping[str, Any], name: str, reader: Reader, path: str) -> str | None:
    """A property kept as the JSON given (traffic analytics, identity): an object, or absent."""
    value = reader.get(obj, name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        reader.invalid(name, f"{path}{name}", "an object", value)
        return None
    return frozen_json(value)


def parse_flow_log(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> FlowLog:
    """A flow-log resource (``FlowLog``): ``targetResourceId`` and ``storageId`` are required; ``format`` defaults
    to JSON version 1 and ``retentionPolicy`` to 0 days, not enabled, as ARM answers them."""
    props, pp = properties_of(body, path)
    subject = f"Flow log {resource_id}"
    fmt = reader.get(props, "format")
    format_type: FlowLogFormatType | None = None
    version: int | None = None
    if isinstance(fmt, Mapping):
        format_type = reader.enum(
            fmt, "type", f"{pp}format.", FlowLogFormatType, Code.INVALID_FLOW_LOG_FORMAT, subject=subject
        )
        version = reader.integer(fmt, "version", f"{pp}format.")
    elif fmt is not None:
        reader.invalid("format", f"{pp}format", "an object", fmt)
    retention = reader.get(props, "retentionPolicy")
    days: int | None = None
    keep = False
    if isinstance(retention, Mapping):
        days = reader.integer(retention, "days", f"{pp}retentionPolicy.")
        keep = reader.flag(retention, "enabled", f"{pp}retentionPolicy.")
    elif retention is not None:
        reader.invalid("retentionPolicy", f"{pp}retentionPolicy", "an object", retention)
    return FlowLog(
        **reader.tracked(body, resource_id, path),
        target_resource_id=reader.text(props, "targetResourceId", pp, required=True) or "",
        storage_id=reader.text(props, "storageId", pp, required=True) or "",
        enabled=reader.flag(props, "enabled", pp),
        format_type=format_type or FlowLogFormatType.JSON,
        format_version=DEFAULT_FORMAT_VERSION if version is None else version,
        retention_days=days or 0,
        retention_enabled=keep,
        enabled_filtering_criteria=reader.text(props, "enabledFilteringCriteria", pp),
        record_types=reader.text(props, "recordTypes", pp),
        flow_analytics_configuration=_json_object(props, "flowAnalyticsConfiguration", reader, pp),
        identity=_json_object(body, "identity", reader, path),
    )
