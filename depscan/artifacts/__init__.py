"""Open an input as a read-only view of files, without extracting it to disk."""
