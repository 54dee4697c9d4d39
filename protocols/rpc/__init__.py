"""DCE/RPC for Outlook's address book (NSPI/RFR) and mailbox (EMSMDB). All sans-IO.

- :mod:`.ndr` — NDR20 Reader/Writer (C706 ch. 14): scalars, arrays, strings, pointers
  with deferred referents, unions, context handles; limits everywhere.
- :mod:`.pdu` — connection-oriented PDUs (C706 12.6, MS-RPCE 2.2.2) encode/decode.
- :mod:`.server` — ``ServerConnection``: bytes in, events out; bind/alter_context
  negotiation, NTLM three-leg auth, request reassembly, response fragmentation, faults.
- :mod:`.interface` — ``InterfaceRegistry`` of ``RpcInterface`` (UUID+version -> opnums).
- :mod:`.security` — security providers (NTLM) and per-PDU sign/seal/verify.
- :mod:`.verification` — MS-RPCE 2.2.2.13 verification trailer.
- :mod:`.ntlm` — NTLMv2 server, NTLMSSP signing and sealing (MS-NLMP); MD4 for the NT
  hash is :mod:`groupware.md4`.
- :mod:`.rts` / :mod:`.vconn` — RPC over HTTP v2 RTS PDUs and virtual connections
  (MS-RPCH).
"""
