"""Remote machines over SSH: host resolution, rsync and SFTP transports, sync, remote scan.

- hosts.py     [hosts.NAME] and user@host:path specs -> a Host (+ the effective ssh settings)
- ssh.py       OpenSSH argv, paramiko connections, host-key policy and its error messages
- listing.py   tree listings (local walk, rsync --list-only, SFTP walk) and exclude rules
- rsync.py     the rsync driver: argv, --itemize-changes parsing, exit-code mapping
- sftp.py      SFTP file operations (temporary name, then posix-rename)
- transports.py  the rsync and SFTP transports behind one interface
- manifest.py  the per-profile record of the last synced state
- planner.py   what a sync has to do (one-way and both ways)
- profile.py   [sync.profiles.NAME] with overrides, and the per-profile lock
- engine.py    runs a profile: guards, plan, transfer, records
- rscan.py     `hafs scan HOST:PATH`
"""
