"""The largest files and directories, as information."""

from __future__ import annotations

import heapq

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import FACT, Finding, plural
from hafs_cli.advice.inventory import parent_of
from hafs_cli.pipe import human_bytes

# A directory is shown through its child when that child holds this share of its bytes.
DOMINANT_CHILD = 0.9


def find(ctx: Context) -> list[Finding]:
    count = int(ctx.cfg("largest").get("count", 10))
    if count <= 0:
        return []
    out = []
    top_files = heapq.nsmallest(
        count, ctx.inv.files.values(), key=lambda e: (-e.size, e.host, e.path)
    )
    for rank, e in enumerate(top_files, 1):
        out.append(
            Finding(
                rule="largest",
                reason=f"largest file #{rank}: {human_bytes(e.size)}.",
                host=e.host,
                paths=[e.path],
                confidence=FACT,
                action=None,
                reversible=True,
                size=e.size,
                details={"what": "file", "rank": rank},
            )
        )
    stats = ctx.inv.dirstats()
    biggest_child: dict[tuple[str, str], int] = {}
    for (host, d), st in stats.items():
        parent = parent_of(d)
        if parent != d:
            key = (host, parent)
            if st.bytes > biggest_child.get(key, -1):
                biggest_child[key] = st.bytes
    shown = [
        (place, st)
        for place, st in stats.items()
        if (st.direct_files or place in ctx.inv.dirs)
        and biggest_child.get(place, 0) < DOMINANT_CHILD * st.bytes
    ]
    top_dirs = heapq.nsmallest(count, shown, key=lambda ps: (-ps[1].bytes, ps[0]))
    for rank, ((host, d), st) in enumerate(top_dirs, 1):
        out.append(
            Finding(
                rule="largest",
                reason=f"largest directory #{rank}: {human_bytes(st.bytes)} in "
                f"{plural(st.files, 'file')}.",
                host=host,
                paths=[d],
                confidence=FACT,
                action=None,
                reversible=True,
                size=st.bytes,
                details={"what": "directory", "rank": rank, "files": st.files},
            )
        )
    return out
