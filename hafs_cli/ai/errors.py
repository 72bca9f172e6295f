"""The one exception type of hafs_cli.ai, with a stable machine-readable code."""

from __future__ import annotations

# Error codes carried by AIError and by `result.error.code`.
QUEUE_FULL = "queue_full"
CANCELLED = "cancelled"
DEADLINE = "deadline_exceeded"
DRAINED = "shutdown"  # still queued when the daemon stopped
NO_HOST = "no_host"  # no configured host has the model
HOST_UNREACHABLE = "host_unreachable"
MODEL_NOT_FOUND = "model_not_found"
SERVER_ERROR = "server_error"
BAD_REQUEST = "bad_request"
BUDGET = "budget_exceeded"
TOOL = "tool_error"
DAEMON = "daemon_error"  # no daemon, or it cannot listen
CONFIG = "config_error"  # the configuration does not allow what was asked


class AIError(Exception):
    """A failed AI call: `code` is one of the constants above, `message` says what to do."""

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.details}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
