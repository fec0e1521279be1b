"""The stateful data plane: connection tracking per NIC, load balancers, scenarios, flow logs out (§3.3, §6)."""
