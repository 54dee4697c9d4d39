"""The ``ncacn_ip_tcp`` listener: DCE/RPC straight over TCP (MS-RPCE 2.1.1.1).

A thin Twisted adapter: bytes from the socket go to an :class:`RpcEndpoint`, and
whatever it produces is written back; when the association ends (a fatal protocol
error or the client's close) the connection is closed after the last bytes.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from twisted.internet import protocol
from twisted.python.failure import Failure

from protocols.rpc.endpoint import RpcEndpoint, RpcSettings

logger = logging.getLogger(__name__)


class RpcTcpProtocol(protocol.Protocol):
    """One client connection."""

    def __init__(self, settings: RpcSettings) -> None:
        self._settings = settings
        self.endpoint: RpcEndpoint | None = None

    def connectionMade(self) -> None:
        transport: Any = self.transport
        peer = transport.getPeer() if transport is not None else None
        host = transport.getHost() if transport is not None else None
        port = getattr(host, "port", 0)
        if transport is not None and hasattr(transport, "setTcpNoDelay"):
            # A call's answer leaves in one write; Nagle would only hold the last
            # segment of a multi-fragment answer back until the client's delayed ACK.
            transport.setTcpNoDelay(True)
        # bind_ack's secondary address: the port we listen on, as text (MS-RPCE 2.2.2.4).
        settings = dataclasses.replace(
            self._settings,
            config=dataclasses.replace(self._settings.config,
                                       secondary_address=f"{port}\0".encode()))
        self.endpoint = RpcEndpoint(settings, str(getattr(peer, "host", "?")), self._output)

    def dataReceived(self, data: bytes) -> None:
        if self.endpoint is not None and data:
            self.endpoint.receive_data(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if self.endpoint is not None:
            self.endpoint.receive_data(b"")

    def _output(self) -> None:
        endpoint = self.endpoint
        transport: Any = self.transport
        if endpoint is None or transport is None:
            return
        data = endpoint.data_to_send()
        if data:
            transport.write(data)
        if endpoint.closed:
            transport.loseConnection()

    def is_busy(self) -> bool:
        """Asked by graceful shutdown: a call is being answered."""
        return self.endpoint is not None and self.endpoint.busy


class RpcTcpFactory(protocol.Factory):
    """Builds one :class:`RpcTcpProtocol` per accepted connection."""

    noisy = False

    def __init__(self, settings: RpcSettings) -> None:
        self._settings = settings

    def buildProtocol(self, addr: Any) -> RpcTcpProtocol:
        proto = RpcTcpProtocol(self._settings)
        proto.factory = self
        return proto


__all__ = ["RpcTcpFactory", "RpcTcpProtocol"]
