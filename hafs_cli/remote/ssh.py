"""SSH for both transports: OpenSSH argv, paramiko connections, host-key policy.

Both transports see the same settings: OpenSSH reads the ssh_config file itself, and
paramiko is given what `ssh -G` resolves from it (HostName, User, Port, IdentityFile,
UserKnownHostsFile, ProxyJump, ProxyCommand). Unknown host keys are refused by default,
with the key's fingerprint and the command that trusts it; nothing is sent before.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field

from hafs_cli import exits
from hafs_cli.exits import HafsError
from hafs_cli.remote.hosts import Host

SSH_FAILED = 255  # OpenSSH's exit status when the connection itself failed


def _password_db_home() -> str | None:
    """The home directory ssh expands `~` to (the password database's, not $HOME)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return None  # Windows: OpenSSH there takes the profile directory


def _home_differs() -> bool:
    """True when $HOME is not the home directory ssh would use by itself."""
    db = _password_db_home()
    return db is not None and os.path.realpath(db) != os.path.realpath(os.path.expanduser("~"))


def _rehome(path: str) -> str:
    """A path ssh expanded from `~` (password database), moved under the $HOME hafs sees."""
    db = _password_db_home()
    if db and _home_differs() and (path == db or path.startswith(db.rstrip("/") + "/")):
        return os.path.expanduser("~") + path[len(db.rstrip("/")) :]
    return os.path.expanduser(path)


def _ssh_value(path: str) -> str:
    return f'"{path}"' if " " in path else path


def _base_options(host: Host) -> list[str]:
    args = ["ssh"]
    config = host.ssh_config_file()
    if config:
        args += ["-F", config]
    elif _home_differs():
        # ssh would read the password database home's ~/.ssh/config: use the system-wide
        # file only, as ssh does when the user has none
        system = "/etc/ssh/ssh_config"
        args += ["-F", system if os.path.isfile(system) else os.devnull]
    strict = "yes" if host.host_key_policy == "reject" else "accept-new"
    args += ["-o", "BatchMode=yes", "-o", f"StrictHostKeyChecking={strict}"]
    args += ["-o", f"ConnectTimeout={host.connect_timeout}"]
    if host.port:
        args += ["-p", str(host.port)]
    if host.user:
        args += ["-l", host.user]
    if host.identity_file:
        args += ["-i", host.identity_path(), "-o", "IdentitiesOnly=yes"]
    return args


def ssh_options(host: Host) -> list[str]:
    """OpenSSH arguments (without the destination) that apply the host's settings.

    ssh expands `~` in its configuration from the password database, not from $HOME;
    when the two differ (a custom HOME, a test run), the known_hosts and identity files
    are given explicitly under $HOME, so ssh reads and trusts the same files as paramiko
    and never writes a key into another home's known_hosts.
    """
    args = _base_options(host)
    if not host.known_hosts and not _home_differs():
        return args
    values = _ssh_g(host, args)
    known = [_rehome(p) for v in values.get("userknownhostsfile", []) for p in v.split()]
    if host.known_hosts:
        known.append(os.path.expanduser(host.known_hosts))
    if known:
        joined = " ".join(_ssh_value(p) for p in dict.fromkeys(known))
        args += ["-o", f"UserKnownHostsFile={joined}"]
        if host.host_key_policy == "accept-new":  # ssh adds keys to the first file only
            os.makedirs(os.path.dirname(known[0]) or ".", mode=0o700, exist_ok=True)
    if not host.identity_file and _home_differs():
        for path in values.get("identityfile", []):
            path = _rehome(path)
            if os.path.isfile(path):
                args += ["-o", f"IdentityFile={_ssh_value(path)}"]
    return args


def _ssh_g(host: Host, options: list[str]) -> dict[str, list[str]]:
    """What `ssh -G` resolves for the host with these options ({} without OpenSSH)."""
    if not shutil.which("ssh"):
        return {}
    proc = subprocess.run(
        [*options, "-G", host.address], capture_output=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise HafsError(
            f"ssh cannot resolve host {host.name!r}: "
            f"{proc.stderr.decode(errors='replace').strip()}; check {host.ssh_config_file()}",
            exits.USAGE,
        )
    values: dict[str, list[str]] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key.lower(), []).append(value)
    return values


def ssh_argv(host: Host, *remote_command: str) -> list[str]:
    """`ssh [options] DEST [command]`."""
    return [*ssh_options(host), host.address, *remote_command]


def rsync_rsh(host: Host) -> str:
    """The value for rsync's -e (rsync splits it on spaces and honours quotes)."""
    return shlex.join(ssh_options(host))


@dataclass
class Resolved:
    """What ssh would use for a host, as `ssh -G` prints it."""

    hostname: str
    port: int
    user: str
    identity_files: list[str] = field(default_factory=list)
    known_hosts_files: list[str] = field(default_factory=list)
    proxy_jump: str = ""
    proxy_command: str = ""


def resolve(host: Host) -> Resolved:
    """The effective settings for `host` (ssh -G when OpenSSH is here, else paramiko's parser)."""
    if shutil.which("ssh"):
        values = _ssh_g(host, _base_options(host))
    else:
        values = _paramiko_lookup(host)

    def first(key: str, default: str = "") -> str:
        got = values.get(key)
        return got[0] if got else default

    known = [_rehome(p) for v in values.get("userknownhostsfile", []) for p in v.split()]
    if host.known_hosts:
        known.append(os.path.expanduser(host.known_hosts))
    known = list(dict.fromkeys(known))
    proxy_jump = first("proxyjump")
    proxy_command = first("proxycommand")
    return Resolved(
        hostname=first("hostname", host.address),
        port=host.port or int(first("port", "22")),
        user=host.user or first("user") or getpass.getuser(),
        identity_files=[_rehome(p) for p in values.get("identityfile", [])],
        known_hosts_files=known,
        proxy_jump="" if proxy_jump == "none" else proxy_jump,
        proxy_command="" if proxy_command == "none" else proxy_command,
    )


def _paramiko_lookup(host: Host) -> dict[str, list[str]]:
    import paramiko

    config = paramiko.SSHConfig()
    path = host.ssh_config_file()
    if path:
        config = paramiko.SSHConfig.from_path(path)
    found = config.lookup(host.address)
    out: dict[str, list[str]] = {}
    for key, value in found.items():
        out[key.lower()] = value if isinstance(value, list) else [str(value)]
    if host.user:
        out["user"] = [host.user]
    if host.identity_file:
        out["identityfile"] = [host.identity_file]
    out.setdefault("userknownhostsfile", ["~/.ssh/known_hosts"])
    return out


def ssh_command_hint(host: Host) -> str:
    """The ssh command line a user can try by hand to reach the host as hafs does."""
    parts = ["ssh"]
    if host.ssh_config:
        parts += ["-F", os.path.expanduser(host.ssh_config)]
    if host.port:
        parts += ["-p", str(host.port)]
    if host.identity_file:
        parts += ["-i", os.path.expanduser(host.identity_file)]
    parts.append(f"{host.user}@{host.address}" if host.user else host.address)
    return shlex.join(parts)


def _telling_line(text: str) -> str:
    """ssh's own reason among rsync's and restic's follow-up lines."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("ssh:") or "Permission denied" in ln or "Could not resolve" in ln:
            return ln
    others = [ln for ln in lines if not ln.startswith(("rsync error:", "rsync: connection"))]
    return (others or lines or ["ssh failed"])[-1]


def fingerprint(key) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _known_hosts_name(hostname: str, port: int) -> str:
    return hostname if port == 22 else f"[{hostname}]:{port}"


def unknown_key_message(host: Host, hostname: str, port: int, key_type: str, fp: str) -> str:
    where = _known_hosts_name(hostname, port)
    return (
        f"host key of {host.name} ({where}) is not known: {key_type} {fp}. "
        f"Check it with the machine's owner, then trust it with "
        f"`ssh-keyscan -p {port} {hostname} >> ~/.ssh/known_hosts` (or `{ssh_command_hint(host)}` once), "
        f'or set host_key_policy = "accept-new" in [hosts.{host.name}]; nothing was sent'
    )


def _scan_host_key(hostname: str, port: int) -> tuple[str, str] | None:
    """(key type, SHA256 fingerprint) of a server, fetched without authenticating."""
    if not shutil.which("ssh-keyscan"):
        return None
    scan = subprocess.run(
        ["ssh-keyscan", "-T", "5", "-t", "ed25519,ecdsa,rsa", "-p", str(port), hostname],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    if not scan.stdout:
        return None
    line = scan.stdout.splitlines()[0]
    finger = subprocess.run(
        ["ssh-keygen", "-l", "-f", "-"], input=line, capture_output=True
    ).stdout.decode()
    parts = finger.split()
    if len(parts) >= 2:
        return parts[-1].strip("()"), parts[1]
    return None


def ssh_failure(host: Host, stderr: bytes, what: str) -> HafsError:
    """A clear error for an OpenSSH connection failure (exit 255)."""
    text = stderr.decode(errors="replace").strip()
    if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        resolved = resolve(host)
        if "HAS CHANGED" in text:
            return HafsError(
                f"host key of {host.name} has CHANGED since it was trusted (possible "
                f"man-in-the-middle); refusing to connect. If the machine was reinstalled, remove "
                f"the old key with `ssh-keygen -R {resolved.hostname}` and trust the new one",
                exits.RUNTIME,
            )
        scanned = _scan_host_key(resolved.hostname, resolved.port)
        key_type, fp = scanned or ("key", "(fingerprint unavailable)")
        return HafsError(
            unknown_key_message(host, resolved.hostname, resolved.port, key_type, fp),
            exits.RUNTIME,
        )
    return HafsError(
        f"{what}: cannot reach {host.name} over ssh: {_telling_line(text)}; check that the "
        f"host is up and that `{ssh_command_hint(host)}` works",
        exits.RUNTIME,
    )


def run_ssh(host: Host, command: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run a command on the host; connection failures raise HafsError (exit 3)."""
    proc = subprocess.run(
        ssh_argv(host, command),
        input=input,
        capture_output=True,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    if proc.returncode == SSH_FAILED:
        raise ssh_failure(host, proc.stderr, f"running {command!r}")
    return proc


class _HostKeyPolicy:
    """paramiko policy: refuse unknown keys (reject) or add them to known_hosts (accept-new)."""

    def __init__(self, host: Host, resolved: Resolved):
        self.host = host
        self.resolved = resolved

    def missing_host_key(self, client, hostname, key) -> None:
        if self.host.host_key_policy == "accept-new":
            client.get_host_keys().add(hostname, key.get_name(), key)
            target = self.resolved.known_hosts_files[0] if self.resolved.known_hosts_files else None
            if target:
                os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
                with open(target, "a") as fh:
                    fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
            return
        raise HafsError(
            unknown_key_message(
                self.host,
                self.resolved.hostname,
                self.resolved.port,
                key.get_name(),
                fingerprint(key),
            ),
            exits.RUNTIME,
        )


def connect(host: Host):
    """An authenticated paramiko SSHClient (host key checked against known_hosts first)."""
    import paramiko

    resolved = resolve(host)
    client = paramiko.SSHClient()
    for path in resolved.known_hosts_files:
        if os.path.isfile(path):
            client.load_host_keys(path)
    policy = _HostKeyPolicy(host, resolved)
    client.set_missing_host_key_policy(policy)  # type: ignore[arg-type]
    sock = None
    if resolved.proxy_command:
        sock = paramiko.ProxyCommand(resolved.proxy_command)
    elif resolved.proxy_jump:
        # the jump host's own settings come from the ssh config, not from this host's table
        name = resolved.proxy_jump.split(",")[0]
        via = Host(
            name=name,
            address=name,
            ssh_config=host.ssh_config,
            host_key_policy=host.host_key_policy,
            connect_timeout=host.connect_timeout,
        )
        jump = [*ssh_options(via), "-W", f"{resolved.hostname}:{resolved.port}", name]
        sock = paramiko.ProxyCommand(shlex.join(jump))
    keys = [p for p in resolved.identity_files if os.path.isfile(p)]
    try:
        client.connect(
            resolved.hostname,
            port=resolved.port,
            username=resolved.user,
            key_filename=keys or None,
            look_for_keys=not keys,
            allow_agent=True,
            timeout=host.connect_timeout,
            banner_timeout=host.connect_timeout,
            auth_timeout=host.connect_timeout,
            sock=sock,
        )
    except HafsError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HafsError(
            f"host key of {host.name} has CHANGED (now {fingerprint(exc.key)}); refusing to "
            f"connect. If the machine was reinstalled: `ssh-keygen -R {resolved.hostname}`",
            exits.RUNTIME,
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise HafsError(
            f"{host.name}: authentication as {resolved.user} failed ({exc}); check the "
            f"identity file ({', '.join(keys) or 'ssh defaults'}) and authorized_keys there",
            exits.RUNTIME,
        ) from None
    except (OSError, paramiko.SSHException) as exc:
        client.close()
        reason = str(exc)
        if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
            reason = "; ".join(
                sorted({os.strerror(e.errno) if e.errno else str(e) for e in exc.errors.values()})
            )
        raise HafsError(
            f"cannot reach {host.name} ({resolved.hostname}:{resolved.port}): {reason}; "
            f"check that the host is up and `{ssh_command_hint(host)}` works",
            exits.RUNTIME,
        ) from None
    return client
