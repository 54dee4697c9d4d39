"""Autodiscover: how Outlook and phones find their servers (MS-OXDSCLI, MS-ASCMD 2.2.1.1).

``pox`` parses requests and writes the 2006 XML responses (outlook 2006a and
mobilesync), ``jsonv1`` answers the JSON v1.0 redirect endpoint, ``resource`` is the thin
Twisted adapter on the HTTP tree.
"""
