"""Exchange ActiveSync (MS-ASHTTP, MS-ASCMD): the WBXML codec, commands, device and policy state.

The codec lives in :mod:`protocols.activesync.wbxml`; it is pure (no Twisted, no I/O) so
the command layer, tests and tools can all drive it with bytes in and events out.
"""
