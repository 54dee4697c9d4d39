"""TNEF (MS-OXTNEF) decoding (filled later)."""
