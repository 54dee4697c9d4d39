"""ActiveSync logic behind ``protocols.activesync``: devices, policies, sync states, mail.

:mod:`.handler` is the entry point (:class:`~.handler.ActiveSyncHandler`, one per
process); :mod:`.state` the sync state values; :mod:`.mapping` converter model <->
store property bags; :mod:`.policy` the device policy from ``[activesync]``.
"""
