"""Flow logs: NSG v1/v2 and VNet flow logs written (semantics §9), read back, replayed against a proposed config."""
