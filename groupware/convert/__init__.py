"""Content conversion between wire formats and MAPI properties (MIME, iCalendar, vCard).

Pure functions, no I/O: MS-OXCMAIL, MS-OXCICAL and MS-OXVCARD mappings live here.
"""
