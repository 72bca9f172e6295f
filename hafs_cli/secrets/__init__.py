"""The secret scanner: rules, filters, entropy, allow pragmas, baselines, redaction."""

from hafs_cli.secrets.scanner import Finding, scan_text

__all__ = ["Finding", "scan_text"]
