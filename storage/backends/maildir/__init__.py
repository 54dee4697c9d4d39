"""The ``maildir`` backend: mail folders as a Maildir++ tree Dovecot and mutt share.

See :mod:`.backend` for the layout and :mod:`.flags` for the flag mapping. The file
helpers (:mod:`.fileio`, :mod:`.sidecar`, :mod:`.folders`) are shared with the
``vdir`` backend.
"""

from storage.backends.maildir.backend import MaildirBackend

__all__ = ["MaildirBackend"]
