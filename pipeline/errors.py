"""The one exception type the CLI turns into a one-line message instead of a traceback."""


class KwsqError(Exception):
    """A user-facing error: bad input, missing files, unsupported models.

    The message must say what is wrong and, where possible, what to do about it.
    """
