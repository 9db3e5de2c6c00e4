"""The one exception type users see: its message is a single line saying what and where."""


class MinionError(Exception):
    """Bad input or state the user can fix; command lines print it as one line, no traceback.

    Example:
        >>> raise MinionError("data/train.tsv:3: empty text")
    """
