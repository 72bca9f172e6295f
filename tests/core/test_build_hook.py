"""hatch_build.build_extensions: the C speed-ups build where a compiler is, and a
machine without one still gets a working (pure-Python) install."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("setuptools")

from hafs_cli import speedups  # noqa: E402
from hatch_build import build_extensions  # noqa: E402  (the repository root is on the path)


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("HAFS_PURE_PYTHON", "CC", "LDSHARED", "CFLAGS"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_every_module_builds_and_imports(clean_env, tmp_path):
    if not sysconfig.get_config_var("CC"):
        pytest.skip("no C compiler configured for this Python")
    built = build_extensions(ROOT, tmp_path)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert sorted(p.name for p in built) == sorted(f"{m}{suffix}" for m in speedups.MODULES)
    # each loads in a fresh interpreter from where it was built
    code = (
        "import importlib.util, sys\n"
        "for path in sys.argv[1:]:\n"
        "    name = 'hafs_cli.' + path.rsplit('/', 1)[1].split('.')[0]\n"
        "    spec = importlib.util.spec_from_file_location(name, path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print('ok')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, *map(str, built)], capture_output=True, text=True
    )
    assert r.stdout.strip() == "ok", r.stderr


def test_no_compiler_means_a_pure_python_build_with_a_message(clean_env, tmp_path, capsys):
    clean_env.setenv("CC", "/bin/false")  # a compiler that always fails
    clean_env.setenv("LDSHARED", "/bin/false")
    assert build_extensions(ROOT, tmp_path) == []
    err = capsys.readouterr().err
    assert all(f"could not build hafs_cli.{m}" in err for m in speedups.MODULES)
    assert "hafs works, only slower" in err


def test_hafs_pure_python_skips_the_build(clean_env, tmp_path, capsys):
    clean_env.setenv("HAFS_PURE_PYTHON", "1")
    assert build_extensions(ROOT, tmp_path) == []
    assert not list(tmp_path.rglob("*.so"))
