"""Advisory data: one OSV parser, range semantics, and the backends that supply records."""
