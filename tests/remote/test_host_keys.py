"""Host keys: unknown keys are refused before anything is sent; ssh config is honoured."""

from __future__ import annotations

import subprocess

import pytest

from hafs_cli.remote.hosts import host_from_table
from hafs_cli.remote.ssh import resolve


def server_fingerprint(server) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{server.host_key}.pub"], capture_output=True, text=True
    ).stdout
    return out.split()[1]


def untrusting_config(server, tmp_path):
    """The server's ssh config, but with an empty known_hosts file."""
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    text = server.ssh_config.read_text().replace(str(server.known_hosts), str(empty))
    config = tmp_path / "ssh_config_untrusted"
    config.write_text(text)
    return config


@pytest.mark.parametrize("transport", ["rsync", "sftp"])
def test_unknown_host_key_is_refused_with_nothing_sent(hafs, setup, write, tmp_path, transport):
    write(setup.local, "secret.txt", "must not leave this machine")
    config = untrusting_config(setup.server, tmp_path)
    setup.config.write_text(
        f'[hosts.stranger]\naddress = "{setup.server.alias}"\nssh_config = "{config}"\n'
    )
    setup.profile("p", remote=f"stranger:{setup.remote}", direction="push", transport=transport)
    logins_before = setup.server.accepted_logins()
    r = hafs("sync", "p")
    assert r.exit_code == 3, r.stderr
    message = r.stderr.decode()
    assert "is not known" in message
    assert server_fingerprint(setup.server) in message  # the fingerprint to check
    assert "ssh-keyscan" in message and "accept-new" in message  # how to trust it
    assert list(setup.remote.iterdir()) == []
    assert setup.server.accepted_logins() == logins_before  # never authenticated


def test_accept_new_policy_trusts_on_first_use(hafs, setup, write, tmp_path):
    write(setup.local, "f", "x")
    config = untrusting_config(setup.server, tmp_path)
    known = tmp_path / "empty_known_hosts"
    setup.config.write_text(
        f'[hosts.tofu]\naddress = "{setup.server.alias}"\nssh_config = "{config}"\n'
        'host_key_policy = "accept-new"\n'
    )
    setup.profile("p", remote=f"tofu:{setup.remote}", direction="push", transport="sftp")
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert f"[127.0.0.1]:{setup.server.port} ssh-ed25519 " in known.read_text()
    assert (setup.remote / "f").read_text() == "x"


def test_ssh_config_values_are_honoured(sshd, tmp_path):
    config = tmp_path / "config"
    config.write_text(
        "Host viaalias\n    HostName 127.0.0.1\n    Port 2222\n    User someone\n"
        "    IdentityFile /keys/id_test\n    ProxyJump jumpbox\n"
    )
    host = host_from_table("lab", {"address": "viaalias", "ssh_config": str(config)})
    got = resolve(host)
    assert (got.hostname, got.port, got.user) == ("127.0.0.1", 2222, "someone")
    assert got.identity_files[0] == "/keys/id_test"
    assert got.proxy_jump == "jumpbox"
    # [hosts] values win over the ssh config
    host = host_from_table("lab", {"address": "viaalias", "ssh_config": str(config), "port": 22})
    assert resolve(host).port == 22


@pytest.mark.parametrize(
    ("transport", "direction"),
    [("rsync", "push"), ("rsync", "pull"), ("rsync", "both"), ("sftp", "push"), ("sftp", "both")],
)
def test_unreachable_host_is_one_clear_runtime_error(hafs, setup, write, transport, direction):
    write(setup.local, "f", "x")
    setup.config.write_text(
        '[hosts.down]\naddress = "127.0.0.1"\nport = 1\nconnect_timeout = 2\n'
        'host_key_policy = "reject"\n'
    )
    setup.profile("p", remote="down:/tmp/x", direction=direction, transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 3
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    # what (ssh's reason, not rsync's follow-up), where, and the command to try by hand
    assert lines[0].startswith("hafs: error: ") and "cannot reach down" in lines[0]
    assert "Connection refused" in lines[0] and "rsync error" not in lines[0]
    assert "`ssh -p 1 127.0.0.1` works" in lines[0]
    assert "Errno" not in lines[0]


@pytest.mark.parametrize("transport", ["rsync", "sftp"])
def test_proxyjump_from_ssh_config_is_used(hafs, setup, write, tmp_path, transport):
    server = setup.server
    config = tmp_path / "ssh_config_jump"
    config.write_text(
        "Host viajump\n"
        f"    HostName 127.0.0.1\n    Port {server.port}\n    User {server.user}\n"
        f"    IdentityFile {server.user_key}\n    UserKnownHostsFile {server.known_hosts}\n"
        f"    ProxyJump {server.alias}\n\n" + server.ssh_config.read_text()
    )
    setup.config.write_text(f'[hosts.far]\naddress = "viajump"\nssh_config = "{config}"\n')
    write(setup.local, "f.txt", "through the jump host")
    setup.profile("p", remote=f"far:{setup.remote}", direction="push", transport=transport)
    before = server.log_text().count("direct-tcpip") + server.log_text().count("Connection from")
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert (setup.remote / "f.txt").read_text() == "through the jump host"
    after = server.log_text().count("direct-tcpip") + server.log_text().count("Connection from")
    assert after >= before + 2  # the jump connection and the tunnelled one


@pytest.mark.parametrize("transport", ["rsync", "sftp"])
def test_user_ssh_config_is_read_by_default(hafs, setup, write, isolated_env, transport):
    """No ssh_config in [hosts]: ~/.ssh/config (HostName, Port, User, IdentityFile) decides."""
    ssh_dir = isolated_env / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "config").write_text(
        setup.server.ssh_config.read_text().replace(setup.server.alias, "homebox")
    )
    setup.config.write_text("")  # no [hosts] table at all: a bare ssh alias
    write(setup.local, "f.txt", "via ~/.ssh/config")
    setup.profile("p", remote=f"homebox:{setup.remote}", direction="push", transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert (setup.remote / "f.txt").read_text() == "via ~/.ssh/config"


def home_host(setup, **keys) -> None:
    """[hosts.box] reaching the test server with no ssh_config: ssh's defaults under ~ apply."""
    server = setup.server
    lines = [
        "[hosts.box]",
        f'address = "{server.host}"',
        f"port = {server.port}",
        f'user = "{server.user}"',
        *(f'{key} = "{value}"' for key, value in keys.items()),
    ]
    setup.config.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("transport", ["rsync", "sftp"])
def test_known_hosts_and_keys_are_those_of_HOME(hafs, setup, write, isolated_env, transport):
    """ssh expands ~ from the password database; hafs must use the $HOME it runs with."""
    ssh_dir = isolated_env / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "known_hosts").write_text(setup.server.host_key_line + "\n")
    key = ssh_dir / "id_ed25519"
    key.write_bytes(setup.server.user_key.read_bytes())
    key.chmod(0o600)
    home_host(setup)  # default policy: reject unknown keys
    write(setup.local, "f.txt", "trusted via $HOME/.ssh")
    setup.profile("p", direction="push", transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    assert (setup.remote / "f.txt").read_text() == "trusted via $HOME/.ssh"


@pytest.mark.parametrize("transport", ["rsync", "sftp"])
def test_accept_new_writes_the_key_into_HOME(hafs, setup, write, isolated_env, transport):
    home_host(setup, host_key_policy="accept-new", identity_file=str(setup.server.user_key))
    write(setup.local, "f.txt", "x")
    setup.profile("p", direction="push", transport=transport)
    r = hafs("sync", "p")
    assert r.exit_code == 0, r.stderr
    known = isolated_env / ".ssh" / "known_hosts"
    found = subprocess.run(
        ["ssh-keygen", "-F", f"[{setup.server.host}]:{setup.server.port}", "-f", str(known)],
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found  # the key was trusted in $HOME/.ssh/known_hosts
    assert setup.server.host_key_line.split()[2] in found.stdout
    # (real_ssh_dir_untouched fails the test if it went to the password database's home)
