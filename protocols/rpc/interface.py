"""Interface registry: abstract syntax (UUID + version) -> opnum handler table.

The DCE/RPC core only needs to know which interfaces exist and which opnums each
defines, to accept or reject presentation contexts (C706 12.6.3.1 bind negotiation)
and to fault ``nca_s_op_rng_error`` for opnums outside the table. What a handler *is*
(a coroutine taking the stub, a class method ...) is up to the protocol that
registers it — NSPI, RFR and EMSMDB — so the table is generic in the handler type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from protocols.rpc.pdu import SyntaxId

H = TypeVar("H")


@dataclass(frozen=True)
class RpcInterface(Generic[H]):
    """One IDL interface: its abstract syntax and its operations by opnum."""

    name: str
    syntax: SyntaxId
    opnums: Mapping[int, H]

    def accepts(self, proposed: SyntaxId) -> bool:
        """C706 12.6.3.1 / MS-RPCE 3.3.1.5.6: same UUID and major version, and the
        client's minor version no newer than ours."""
        return (
            proposed.uuid == self.syntax.uuid
            and proposed.major == self.syntax.major
            and proposed.minor <= self.syntax.minor
        )


class InterfaceRegistry(Generic[H]):
    """The interfaces a listener serves; consulted by every bind and alter_context."""

    def __init__(self) -> None:
        self._interfaces: list[RpcInterface[H]] = []

    def register(self, interface: RpcInterface[H]) -> None:
        for known in self._interfaces:
            if (
                known.syntax.uuid == interface.syntax.uuid
                and known.syntax.major == interface.syntax.major
            ):
                raise ValueError(f"interface {interface.syntax} already registered as {known.name}")
        self._interfaces.append(interface)

    def find(self, proposed: SyntaxId) -> RpcInterface[H] | None:
        for interface in self._interfaces:
            if interface.accepts(proposed):
                return interface
        return None

    def __iter__(self) -> Iterator[RpcInterface[H]]:
        return iter(self._interfaces)

    def __len__(self) -> int:
        return len(self._interfaces)
