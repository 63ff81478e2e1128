"""Loopback ports for containers: one ``SAGEMAKER_BIND_TO_PORT`` and one disjoint
``SAGEMAKER_SAFE_PORT_RANGE`` block each.

The bind port comes from the kernel (bind 127.0.0.1:0, read it, release it), so it is free at
that moment; another process can still take it before the container binds. That race is not
retried here: the container then fails at boot and the start fails with a reason that says so
(``port_taken``). Safe-port blocks are carved from a range below the kernel's ephemeral ports,
so kernel-chosen bind ports never fall inside a block handed out.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

__all__ = ["ContainerPorts", "PortAllocator", "PortsExhausted", "port_taken"]


class PortsExhausted(RuntimeError):
    pass


@dataclass(frozen=True)
class ContainerPorts:
    bind_port: int
    safe_low: int
    safe_high: int  # inclusive, as SageMaker's "XXXX-YYYY"

    @property
    def safe_range(self) -> str:
        return f"{self.safe_low}-{self.safe_high}"

    def env(self) -> dict[str, str]:
        return {
            "SAGEMAKER_BIND_TO_PORT": str(self.bind_port),
            "SAGEMAKER_SAFE_PORT_RANGE": self.safe_range,
        }


def _free_loopback_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """True when something else holds ``port`` on ``host`` now (a bind race was lost)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so a port in TIME_WAIT from our own container does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class PortAllocator:
    """Hands out bind ports and safe-port blocks; one per server, shared by its agents."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        safe_low: int = 20000,
        safe_high: int = 32767,
        block_size: int = 50,
    ) -> None:
        if block_size < 1 or safe_high - safe_low + 1 < block_size:
            raise ValueError("safe-port range smaller than one block")
        self.host = host
        self._block_size = block_size
        self._blocks = list(range(safe_low, safe_high - block_size + 2, block_size))
        self._leased_blocks: set[int] = set()
        self._leased_ports: set[int] = set()
        # Agents may run on several threads (to_thread, a Ray actor's pool).
        self._lock = threading.Lock()

    def allocate(self, count: int) -> list[ContainerPorts]:
        with self._lock:
            free_blocks = [b for b in self._blocks if b not in self._leased_blocks]
            if len(free_blocks) < count:
                raise PortsExhausted(
                    f"No free SAGEMAKER_SAFE_PORT_RANGE block for {count} containers "
                    f"({len(free_blocks)} of {len(self._blocks)} blocks free)."
                )
            result = []
            for block in free_blocks[:count]:
                port = self._bind_port_outside_blocks()
                self._leased_blocks.add(block)
                self._leased_ports.add(port)
                result.append(ContainerPorts(port, block, block + self._block_size - 1))
            return result

    def release(self, leases: list[ContainerPorts]) -> None:
        with self._lock:
            for lease in leases:
                self._leased_blocks.discard(lease.safe_low)
                self._leased_ports.discard(lease.bind_port)

    def _bind_port_outside_blocks(self) -> int:
        for _ in range(100):
            port = _free_loopback_port(self.host)
            if port in self._leased_ports:
                continue
            if any(b <= port < b + self._block_size for b in self._leased_blocks):
                continue
            return port
        raise PortsExhausted("The kernel kept returning ports already handed out.")
