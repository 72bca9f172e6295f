"""Build hook: compile hafs's optional C speed-ups (hafs_cli/_c*.c) into the wheel.

Each `hafs_cli/_cNAME.c` becomes the extension module `hafs_cli._cNAME`. They are
optional: every one has a pure-Python equivalent, so a machine without a C compiler
(or with HAFS_PURE_PYTHON=1 at install time) still gets a working hafs, only slower.
setuptools does the compiling because it knows every platform's compiler and flags.

An editable install (`pip install -e .`) builds them next to their sources, where the
editable path finds them; a regular wheel carries them under hafs_cli/.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # imported outside a build (tests call build_extensions)
    BuildHookInterface = object  # type: ignore[assignment,misc]


def build_extensions(root: Path, out_dir: Path) -> list[Path]:
    """Compile every hafs_cli/_c*.c into out_dir/hafs_cli/; the built files (may be none)."""
    sources = sorted((root / "hafs_cli").glob("_c*.c"))
    if not sources or os.environ.get("HAFS_PURE_PYTHON"):
        return []
    try:
        from setuptools import Distribution, Extension
    except ImportError:
        print("hafs: setuptools missing; installing without the C speed-ups", file=sys.stderr)
        return []
    built = []
    for src in sources:
        name = f"hafs_cli.{src.stem}"
        ext = Extension(
            name,
            [str(src.relative_to(root))],
            extra_compile_args=[] if os.name == "nt" else ["-O2", "-std=c11"],
        )
        dist = Distribution({"name": "hafs-speedups", "ext_modules": [ext]})
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib = str(out_dir)
        with tempfile.TemporaryDirectory() as tmp:
            cmd.build_temp = tmp
            cwd = os.getcwd()
            try:
                os.chdir(root)
                cmd.ensure_finalized()
                cmd.run()
                built.extend(Path(p) for p in cmd.get_outputs())
            except Exception as exc:  # no compiler, no headers: fall back to pure Python
                print(
                    f"hafs: could not build {name} ({exc}); installing without it "
                    "(hafs works, only slower)",
                    file=sys.stderr,
                )
            finally:
                os.chdir(cwd)
    return built


class SpeedupsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        self._tmp = tempfile.mkdtemp(prefix="hafs-build-")
        built = build_extensions(root, Path(self._tmp))
        if not built:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for path in built:
            rel = path.relative_to(self._tmp).as_posix()
            if version == "editable":
                # found through the editable path; copied under a temporary name and
                # renamed over the old one: writing into the old file in place would
                # change the code under every process that has it loaded (they crash)
                tmp = root / f"{rel}.tmp{os.getpid()}"
                shutil.copy2(path, tmp)
                os.replace(tmp, root / rel)
            else:
                build_data["force_include"][str(path)] = rel

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
