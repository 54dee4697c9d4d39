"""The ``vdir`` backend: calendars, contacts, tasks and notes as vdir collections
(one ``.ics``/``.vcf`` file per item) that vdirsyncer, khal and khard use.

See :mod:`.backend` for the layout and :mod:`.mapping` for the properties the files
carry.
"""

from storage.backends.vdir.backend import VdirBackend

__all__ = ["VdirBackend"]
