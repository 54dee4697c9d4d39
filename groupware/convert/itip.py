"""iTIP (RFC 5546) text/calendar parts in mail -> meeting message classes (filled later)."""
