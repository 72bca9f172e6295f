"""Cleanup and consolidation advice over scan/dedup records (`hafs recommend`).

`hafs_cli.advice.run.advise(records, settings, now_ns)` reads the stream once, runs the
rules in `hafs_cli.advice.rules` and returns the findings in a stable order. This module
stays import-free so that the command's options cost nothing at start-up.
"""

# The [recommend] sub-tables that hold one rule family each (and --rule's choices).
RULE_SECTIONS = (
    "duplicates",
    "regenerable",
    "temporary",
    "downloads",
    "archives",
    "projects",
    "experiments",
    "largest",
)
