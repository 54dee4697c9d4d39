"""Protocol-neutral business logic (auth, provisioning, delivery, sync state ...).

Handlers talk to ``storage.mapistore`` and ``directory`` through their interfaces and
never import ``protocols``: every frontend shares the same rules.
"""
