"""The seed package's one error type. The package imports nothing from the harness, so that
``harness`` (its commands and scenarios) can use it without an import cycle."""


class SeedError(Exception):
    """A problem the user can fix (bad input, an unreachable target, an unusable manifest).

    The message is one line that names the thing to fix; the ``harness`` CLI prints it as
    ``harness: error: <message>`` and exits 2, as it does with its own errors.
    """
