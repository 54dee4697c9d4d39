"""Wire formats and sessions: each protocol is a sans-IO core plus a thin Twisted adapter."""
