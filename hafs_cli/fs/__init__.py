"""File-system library behind scan, dedup and apply: walk, hash, group, act, undo."""
