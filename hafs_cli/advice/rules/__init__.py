"""One module per rule family; each exposes `find(ctx) -> list[Finding]`."""
