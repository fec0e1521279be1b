"""Flows as numpy columns, the input of the batch path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address

import numpy as np
import numpy.typing as npt

from opennsg.engine.flow import Flow
from opennsg.model.enums import Direction

INBOUND_CODE = 0
OUTBOUND_CODE = 1
#: Port column value of a flow without a port (port-less protocols, or ``*``).
NO_PORT = -1
#: The low 64 bits of an address (and a uint64 word of all ones).
LOW64 = (1 << 64) - 1


def halves(value: int) -> tuple[int, int]:
    """An address as the (high, low) uint64 halves the columns and tables hold (IPv4: high is 0)."""
    return value >> 64, value & LOW64


@dataclass(frozen=True, slots=True)
class FlowColumns:
    """One row per flow. Addresses are (high, low) uint64 halves; IPv4 uses ``low`` only and ``high = 0``."""

    direction: npt.NDArray[np.uint8]
    protocol: npt.NDArray[np.uint8]
    local_v6: npt.NDArray[np.bool_]
    local_high: npt.NDArray[np.uint64]
    local_low: npt.NDArray[np.uint64]
    local_port: npt.NDArray[np.int32]
    remote_v6: npt.NDArray[np.bool_]
    remote_high: npt.NDArray[np.uint64]
    remote_low: npt.NDArray[np.uint64]
    remote_port: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.direction.size)

    @classmethod
    def from_flows(cls, flows: Sequence[Flow]) -> FlowColumns:
        """Columns from ``Flow`` objects (one Python step per flow: for tests and small inputs)."""
        local = [halves(int(f.local_ip)) for f in flows]
        remote = [halves(int(f.remote_ip)) for f in flows]
        return cls(
            direction=np.asarray(
                [INBOUND_CODE if f.direction is Direction.INBOUND else OUTBOUND_CODE for f in flows], dtype=np.uint8
            ),
            protocol=np.asarray([f.protocol for f in flows], dtype=np.uint8),
            local_v6=np.asarray([isinstance(f.local_ip, IPv6Address) for f in flows], dtype=bool),
            local_high=np.asarray([high for high, _ in local], dtype=np.uint64),
            local_low=np.asarray([low for _, low in local], dtype=np.uint64),
            local_port=np.asarray([NO_PORT if f.local_port is None else f.local_port for f in flows], dtype=np.int32),
            remote_v6=np.asarray([isinstance(f.remote_ip, IPv6Address) for f in flows], dtype=bool),
            remote_high=np.asarray([high for high, _ in remote], dtype=np.uint64),
            remote_low=np.asarray([low for _, low in remote], dtype=np.uint64),
            remote_port=np.asarray(
                [NO_PORT if f.remote_port is None else f.remote_port for f in flows], dtype=np.int32
            ),
        )

    def take(self, index: npt.NDArray[np.intp]) -> FlowColumns:
        """The rows at ``index``, in that order."""
        return FlowColumns(
            self.direction[index],
            self.protocol[index],
            self.local_v6[index],
            self.local_high[index],
            self.local_low[index],
            self.local_port[index],
            self.remote_v6[index],
            self.remote_high[index],
            self.remote_low[index],
            self.remote_port[index],
        )
