"""Outlook's address book: NSPI (MS-NSPI / MS-OXNSPI) and RFR (MS-OXABREF).

- :mod:`.constants` — opnums, flags, Minimal Entry ID constants, code pages, error codes.
- :mod:`.ndr_types` — NDR20 forms of STAT, property values, rows, restrictions, names
  (MS-OXNSPI 2.2.2 / 2.2.8); pure codec.
- :mod:`.rpc_messages` — request decoders / response encoders for every NSPI and RFR
  opnum over DCE/RPC (MS-OXNSPI 3.1.4.1, MS-OXABREF 3.1.4); pure codec.
- :mod:`.http_messages` — the binary request/response bodies of the MAPI/HTTP
  address-book endpoint (MS-OXCMAPIHTTP 2.2.5); pure codec, both directions.
- :mod:`.service` — one adapter from both transports to
  :class:`groupware.handlers.addressbook.AddressBookHandler`.
- :mod:`.client` — the project's own MAPI/HTTP address-book client.
"""
