"""Fixtures for backup tests: real restic, a local repository, real data, a hafs.toml."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import pytest

from hafs_cli.schemas import validate_record
from tests.fixtures.sshd import real_ssh_dir_untouched, sshd  # noqa: F401  (fixtures)

PASSWORD = "correct horse battery staple 7f3a"

if shutil.which("restic") is None:
    pytest.skip("restic is not installed (apt-get install restic)", allow_module_level=True)


def toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(toml_str(v) for v in values) + "]"


@dataclass
class BackupWorld:
    """A password file, a repository location, source folders, and the hafs.toml tying them."""

    root: Path
    config: Path
    password_file: Path
    repo: Path
    sets: dict[str, dict] = field(default_factory=dict)
    backup: dict[str, object] = field(default_factory=dict)
    repositories: dict[str, dict] = field(default_factory=dict)
    extra: str = ""

    def source(self, name: str) -> Path:
        path = self.root / "src" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add_set(self, name: str, *paths: Path, **keys) -> None:
        self.sets[name] = {"paths": [str(p) for p in paths], **keys}
        self.write()

    def write(self) -> None:
        lines = ["[backup]"]
        for key, value in self.backup.items():
            lines.append(f"{key} = {_toml(value)}")
        for name, table in self.repositories.items():
            lines.append(f"[backup.repositories.{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
        for name, table in self.sets.items():
            lines.append(f"[backup.sets.{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
        self.config.write_text("\n".join(lines) + "\n" + self.extra)

    def restic(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run restic directly on the default repository (for setting up and inspecting)."""
        env = {
            **os.environ,
            "RESTIC_PASSWORD_FILE": str(self.password_file),
            "RESTIC_REPOSITORY": str(self.repo),
        }
        return subprocess.run(["restic", *args], env=env, capture_output=True, check=check)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return toml_list(value)
    return toml_str(str(value))


@pytest.fixture
def world(tmp_path: Path) -> BackupWorld:
    """A configured local repository (not yet initialised) and no sets."""
    password_file = tmp_path / "restic-password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    repo = tmp_path / "repo"
    w = BackupWorld(
        root=tmp_path, config=Path("hafs.toml").resolve(), password_file=password_file, repo=repo
    )
    w.repositories["default"] = {"url": str(repo), "password_file": str(password_file)}
    w.write()
    return w


@pytest.fixture(scope="session")
def initialised_repo(tmp_path_factory) -> Path:
    """One empty repository per test session, made by `hafs backup init` with the test
    password, its key then made cheap to open (cheapen_key); `ready` copies it."""
    base = tmp_path_factory.mktemp("template-repo")
    password_file = base / "password"
    password_file.write_text(PASSWORD + "\n")
    repo = base / "repo"
    config = base / "hafs.toml"
    config.write_text(
        f"[backup.repositories.default]\nurl = {toml_str(str(repo))}\n"
        f"password_file = {toml_str(str(password_file))}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAFS_", "RESTIC_"))}
    env.update(HAFS_CONFIG=str(config), RESTIC_CACHE_DIR=str(base / "cache"))
    init = subprocess.run(
        [sys.executable, "-m", "hafs_cli", "backup", "init"], env=env, capture_output=True
    )
    assert init.returncode == 0, init.stderr
    cheapen_key(repo, PASSWORD)
    return repo


@pytest.fixture
def ready(world: BackupWorld, initialised_repo: Path) -> BackupWorld:
    """The world with its repository initialised (a copy of the session's empty one: init
    calibrates and runs restic's key derivation, seconds per test)."""
    shutil.copytree(initialised_repo, world.repo)
    return world


# -- a cheap key derivation for test repositories ---------------------------------------
# `restic init` calibrates scrypt to take about half a second of CPU, and every restic
# process pays it again to open the repository: most of the backup suite's time, and 400
# backups in the retention test. cheapen_key re-wraps the same master key with scrypt
# N=1024 (what restic's own test suite does with TestUseLowSecurityKDFParameters), in
# restic's documented key format (design.md, "Keys, Encryption and MAC"): data =
# IV || AES-256-CTR(ciphertext) || Poly1305-AES(ciphertext), keys from scrypt(64 bytes) =
# AES key (32) || MAC k (16) || MAC r (16). The repository, its data and everything restic
# does with it stay real; a wrong password still fails.


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes, bytes]:
    out = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=1 << 30, dklen=64)
    return out[:32], out[32:48], out[48:]


def _poly1305_aes(k: bytes, r: bytes, nonce: bytes, message: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.poly1305 import Poly1305

    aes = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    s = aes.update(nonce) + aes.finalize()
    return Poly1305.generate_tag(r + s, message)  # Poly1305 clamps r itself


def _aes_ctr(key: bytes, nonce: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    ctr = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    return ctr.update(data) + ctr.finalize()


def cheapen_key(repo: Path, password: str, n: int = 1024) -> None:
    """Re-wrap a local repository's only key with scrypt N=n (same password, same master key)."""
    (old,) = list((repo / "keys").iterdir())
    doc = json.loads(old.read_bytes())
    data = base64.b64decode(doc["data"])
    nonce, sealed, tag = data[:16], data[16:-16], data[-16:]
    enc, mac_k, mac_r = _scrypt(
        password, base64.b64decode(doc["salt"]), doc["N"], doc["r"], doc["p"]
    )
    assert _poly1305_aes(mac_k, mac_r, nonce, sealed) == tag, "restic key format not understood"
    master_key = _aes_ctr(enc, nonce, sealed)
    salt, nonce = os.urandom(64), os.urandom(16)
    enc, mac_k, mac_r = _scrypt(password, salt, n, 8, 1)
    sealed = _aes_ctr(enc, nonce, master_key)
    doc.update(
        N=n,
        r=8,
        p=1,
        salt=base64.b64encode(salt).decode(),
        data=base64.b64encode(nonce + sealed + _poly1305_aes(mac_k, mac_r, nonce, sealed)).decode(),
    )
    raw = json.dumps(doc).encode()
    (repo / "keys" / hashlib.sha256(raw).hexdigest()).write_bytes(raw)  # files are named by hash
    old.unlink()


def manifest(root: Path) -> dict[str, str]:
    """{relative path: blake3} of every regular file below root (symlinks as 'link:TARGET')."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            rel = os.path.relpath(path, root)
            if path.is_symlink():
                out[rel] = "link:" + os.readlink(path)
            else:
                out[rel] = blake3.blake3(path.read_bytes()).hexdigest()
    return out


def assert_valid(records: list[dict]) -> None:
    for rec in records:
        problems = validate_record(rec)
        assert not problems, (rec, problems)


def restored_root(target: Path, source: Path) -> Path:
    """Where restic puts `source` inside a restore target (its absolute path below it)."""
    return target / str(source).lstrip("/")
