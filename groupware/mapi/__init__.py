"""The MAPI data model shared by every frontend (NSPI, EMSMDB, ActiveSync, IMAP).

Pure code, no I/O: property types and tags (:mod:`.proptypes`, :mod:`.propdefs`,
:mod:`.tags`), named properties (:mod:`.named`), the ROP-buffer encodings of property
values and rows (:mod:`.values`, :mod:`.rows`) over a bounds-checked
:class:`~.buffer.Reader`/:class:`~.buffer.Writer`, object ids and sync structures
(:mod:`.ids`, :mod:`.changes`, :mod:`.idset`), entry ids (:mod:`.entryids`),
restrictions and sort orders with their evaluation (:mod:`.restrictions`,
:mod:`.evaluate`, :mod:`.sorting`) and the MAPI error codes (:mod:`.codes`).

Everything that parses wire data raises :class:`~.errors.MapiFormatError` (an
:class:`groupware.errors.InvalidInput`) on bad input, never another exception.
"""
