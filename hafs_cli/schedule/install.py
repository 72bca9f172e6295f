"""OS entries that start `hafs schedule run` at login, in the user's own scope."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from hafs_cli import exits
from hafs_cli.exits import HafsError

LABEL = "dev.hafs.schedule"
CRON_MARK = "# hafs schedule (managed by 'hafs schedule install --cron')"


def hafs_argv() -> list[str]:
    """The absolute command that runs this hafs, so the entry works without a login PATH."""
    return [sys.executable, "-m", "hafs_cli", "schedule", "run"]


def systemd_unit(argv: list[str], log: Path) -> str:
    return f"""[Unit]
Description=hafs scheduled pipelines
After=network-online.target

[Service]
Type=simple
ExecStart={shlex.join(argv)}
Restart=on-failure
RestartSec=30
KillSignal=SIGTERM
TimeoutStopSec=120
StandardOutput=append:{log}
StandardError=append:{log}

[Install]
WantedBy=default.target
"""


def launchd_plist(argv: list[str], log: Path) -> str:
    args = "\n".join(f"    <string>{escape(a)}</string>" for a in argv)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict><key>SuccessfulExit</key><false/></dict>
  <key>StandardOutPath</key>
  <string>{escape(str(log))}</string>
  <key>StandardErrorPath</key>
  <string>{escape(str(log))}</string>
</dict>
</plist>
"""


def cron_line(argv: list[str], log: Path) -> str:
    return f"@reboot {shlex.join(argv)} >> {shlex.quote(str(log))} 2>&1 {CRON_MARK}\n"


def windows_task(argv: list[str]) -> list[str]:
    command = subprocess.list2cmdline(argv)
    return ["schtasks", "/Create", "/F", "/TN", "hafs-schedule", "/SC", "ONLOGON", "/TR", command]


def entry(kind: str, log: Path) -> tuple[str, Path | None]:
    """(text of the entry, where --write puts it) for kind systemd|launchd|cron|windows-task."""
    argv = hafs_argv()
    home = Path.home()
    if kind == "systemd":
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        return systemd_unit(argv, log), config / "systemd/user/hafs-schedule.service"
    if kind == "launchd":
        return launchd_plist(argv, log), home / "Library/LaunchAgents" / f"{LABEL}.plist"
    if kind == "cron":
        return cron_line(argv, log), None
    if kind == "windows-task":
        return subprocess.list2cmdline(windows_task(argv)) + "\n", None
    raise HafsError(f"unknown entry kind {kind!r}")


def write_entry(kind: str, log: Path) -> str:
    """Install the entry in the user's own scope; returns what was done."""
    text, path = entry(kind, log)
    if kind == "cron":
        return _install_cron(text)
    if kind == "windows-task":
        if os.name != "nt":
            raise HafsError("--windows-task --write works on Windows only; run it there")
        subprocess.run(windows_task(hafs_argv()), check=True)  # pragma: no cover
        return "created scheduled task hafs-schedule"  # pragma: no cover
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return f"unchanged: {path}"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    follow = {
        "systemd": "systemctl --user daemon-reload && systemctl --user enable --now hafs-schedule",
        "launchd": f"launchctl load -w {path}",
    }[kind]
    return f"wrote {path}; now run: {follow}"


def _install_cron(line: str) -> str:
    try:
        current = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise HafsError(
            "crontab is not installed; use --systemd or --launchd", exits.RUNTIME
        ) from None
    lines = [x for x in current.stdout.splitlines(keepends=True) if CRON_MARK not in x]
    if current.returncode != 0:
        lines = []
    new = "".join(lines) + line
    if new == current.stdout:
        return "unchanged: crontab"
    subprocess.run(["crontab", "-"], input=new, text=True, check=True)
    return "installed the @reboot line in your crontab"
