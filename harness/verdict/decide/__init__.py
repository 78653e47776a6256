"""Pure decisions from what was read: no I/O here."""
