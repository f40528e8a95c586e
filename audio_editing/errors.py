"""The one exception type that reaches the user as a one-line message."""


class UserError(Exception):
    """Bad input or configuration: says what is wrong and what to do.

    The command-line entry points print ``error: <message>`` and exit with
    status 2, without a traceback and before anything is written.
    """
