"""Batch IP flow verify over flow files (JSON lines, CSV, Parquet), using the compiled classifier."""

from opennsg.batch.verify import OUTPUT_FIELDS, BatchSummary, ReadAhead, read_ahead, verify_flows_file

__all__ = ["OUTPUT_FIELDS", "BatchSummary", "ReadAhead", "read_ahead", "verify_flows_file"]
