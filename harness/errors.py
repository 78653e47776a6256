"""The one error type a user sees: one line, no traceback."""


class HarnessError(Exception):
    """A problem the user can fix (bad input, unreachable service, wrong credentials).

    The CLI prints ``harness: error: <message>`` and exits with ExitCode.ERROR; the message
    must therefore be a single line that names the thing to fix.
    """
