"""Exit statuses shared by every subcommand, and the error that carries one."""

OK = 0
FOUND = 1  # the check found problems (validate-asm errors, a blocking hook, secrets found)
USAGE = 2  # usage, configuration or input errors
RUNTIME = 3  # a runtime failure: host unreachable, engine missing
INTERRUPTED = 130  # Ctrl-C

EXIT_STATUS_HELP = """\b
Exit status:
  0  success
  1  the check found problems
  2  usage, configuration or input error
  3  runtime failure (host unreachable, engine missing)
  130  interrupted (Ctrl-C)"""


class HafsError(Exception):
    """An error the user can act on: printed as one line, no traceback, then exit `code`."""

    def __init__(self, message: str, code: int = USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


def epilog(*examples: str) -> str:
    """Build a subcommand epilog: pipeline examples, then the exit statuses."""
    lines = ["\b", "Examples:"]
    lines += [f"  {e}" for e in examples]
    return "\n".join(lines) + "\n\n" + EXIT_STATUS_HELP
