"""MAPI Extensions for HTTP (MS-OXCMAPIHTTP): the transport of both Outlook endpoints.

- :mod:`.framing` — response codes (2.2.3.3.3), meta-tags PROCESSING / PENDING / DONE
  and the trailing headers (2.2.7, 2.2.2.2), request id / client info checks; sans-IO,
  both directions (the client parses what the server writes).
- :mod:`.sessions` — session contexts behind the context and sequence cookies
  (3.1.5.2, 3.2.5.1), with inactivity expiry.
- :mod:`.resource` — the Twisted resource of one endpoint; request types plug in as
  :class:`~.resource.RequestType` (the address book now, EMSMDB later).
- :mod:`.client` — a small blocking client (http.client) for tests, tools and admins.
"""
