"""HTTP authentication checks for other servers (Prosody mod_auth_http)."""
