"""The stateful data plane: connection tracking per NIC, load balancers, scenarios, flow logs out (spec §3.3, §6)."""
