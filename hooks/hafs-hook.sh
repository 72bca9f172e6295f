#!/bin/sh
# hafs-hook-marker: written by 'hafs hooks install'; 'hafs hooks uninstall' removes it.
# A hook that was here before hafs was kept as @HOOK_TYPE@.legacy: it runs first, and
# a failure of either blocks. Skip once with 'git commit --no-verify' (pre-commit) or
# single steps with HAFS_SKIP=secrets,toml.
HAFS_HOOK_TYPE=@HOOK_TYPE@
HAFS_PYTHON=@PYTHON@

here=$(dirname -- "$0")
stdin_copy=
if [ "$HAFS_HOOK_TYPE" = pre-push ]; then
    # git passes the refs being pushed on stdin; both hooks need to read them.
    stdin_copy=$(mktemp "${TMPDIR:-/tmp}/hafs-hook.XXXXXX") || exit 1
    trap 'rm -f "$stdin_copy"' EXIT
    cat > "$stdin_copy"
fi

run() {
    if [ -n "$stdin_copy" ]; then "$@" < "$stdin_copy"; else "$@"; fi
}

legacy_status=0
if [ -x "$here/$HAFS_HOOK_TYPE.legacy" ]; then
    run "$here/$HAFS_HOOK_TYPE.legacy" "$@"
    legacy_status=$?
fi

if [ -x "$HAFS_PYTHON" ]; then
    run "$HAFS_PYTHON" -m hafs_cli hooks run "$HAFS_HOOK_TYPE" -- "$@"
    status=$?
elif command -v hafs > /dev/null 2>&1; then
    run hafs hooks run "$HAFS_HOOK_TYPE" -- "$@"
    status=$?
else
    echo "hafs hooks: hafs not found ($HAFS_PYTHON is gone and no hafs on PATH);" \
        "reinstall hafs, or remove this hook with 'hafs hooks uninstall'" >&2
    status=1
fi

if [ "$legacy_status" -ne 0 ]; then
    exit "$legacy_status"
fi
exit "$status"
