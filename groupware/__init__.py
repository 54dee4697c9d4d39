"""The groupware server: one process serving Outlook, phones, mail clients and chat.

The package holds the application (wiring, rules, CLI); wire formats live in
``protocols``, persistence in ``storage`` and ``directory``.
"""

__version__ = "0.1.0"
