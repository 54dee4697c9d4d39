"""DCE/RPC for Outlook's address book (NSPI/RFR) and mailbox (EMSMDB).

Sans-IO layers: :mod:`.ndr` (NDR20 marshalling), :mod:`.pdu` (connection-oriented
PDUs and the server state machine), :mod:`.ntlm` (NTLMSSP server, signing and
sealing), :mod:`.rts` (RPC over HTTP v2 RTS PDUs and virtual connections).
"""
