"""The one error every MAPI codec raises on bad input.

It subclasses :class:`groupware.errors.InvalidInput`, so a frontend that does not
care about the details maps it like any other invalid input (``ecRpcFormat`` for
EMSMDB, see :mod:`groupware.mapi.codes`).
"""

from __future__ import annotations

from groupware.errors import InvalidInput


class MapiFormatError(InvalidInput):
    """Wire data is truncated, oversized, or not what MS-OXCDATA allows."""
