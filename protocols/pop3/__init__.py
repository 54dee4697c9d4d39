"""POP3 (RFC 1939) with CAPA, RESP-CODES, AUTH-RESP-CODE (RFC 2449, 3206), STLS
(RFC 2595), SASL PLAIN/LOGIN (RFC 5034): a sans-IO session core (:mod:`.core`) and a
Twisted adapter (:mod:`.server`). The maildrop is the user's Inbox, seen through
``groupware.handlers.pop3``. ``twisted.mail.pop3`` is not used: it has no STLS.
"""
