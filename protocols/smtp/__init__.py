"""SMTP, submission and LMTP: one sans-IO session core, one Twisted adapter.

* :mod:`.address` — RFC 5321 paths, ESMTP parameters, xtext (RFC 3461).
* :mod:`.reply` — replies with RFC 3463 enhanced status codes.
* :mod:`.core` — :class:`~.core.SmtpServerConnection`: bytes in, events and replies out,
  for the three modes (MX, submission, LMTP) with every limit.
* :mod:`.errors` — the one place mapping :class:`groupware.errors.Code` to SMTP replies.
* :mod:`.limits` — token buckets and per-address / per-user connection counts
  (shared with POP3).
* :mod:`.server` — the Twisted protocol and factory; business decisions are made by
  ``groupware.handlers.delivery`` and ``groupware.handlers.submission``.

Twisted's own ``twisted.mail.smtp`` is not used: it advertises neither SIZE, 8BITMIME,
PIPELINING, ENHANCEDSTATUSCODES, SMTPUTF8 nor DSN and has no LMTP.
"""
