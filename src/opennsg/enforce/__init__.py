"""Real enforcement on Linux: a NIC's chain compiled to nftables, applied in a namespace or on a host, and labs of
namespaces rebuilding whole topologies (``opennsg enforce``, ``opennsg lab``)."""
