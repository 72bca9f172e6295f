"""Backups through restic: hafs drives restic, it never writes a backup format of its own.

- api.py          one function per subcommand (configuration in, records out)
- restic.py       the driver: argv, environment, --json parsing, failures -> HafsError
- repository.py   [backup.repositories.NAME]: URL, sftp through [hosts], password source
- sets.py         [backup.sets.NAME]: paths, the set's tag, excludes (sync syntax)
- sqlite_stage.py consistent copies of live SQLite databases (online backup API)
- locks.py        stale-lock removal (this host, process gone) and retry
- run.py          restic backup -> backup_snapshot
- status.py       list / status
- retention.py    forget with explicit grouping (host, set tag)
- verify.py       restic check + sample restore compared by blake3, SQLite quick_check
- restore.py      guarded restore, SQLite copies put back in place
"""
