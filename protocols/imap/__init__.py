"""IMAP4rev1/IMAP4rev2 server core, sans-IO.

:mod:`.parser` turns client bytes into typed :mod:`.commands`; :mod:`.encoder` writes
responses (streaming FETCH data); :mod:`.mime_structure` computes ENVELOPE,
BODYSTRUCTURE and section byte ranges from a message's raw bytes; :mod:`.mutf7` is the
mailbox-name codec.  Nothing here does I/O or imports Twisted.
"""
