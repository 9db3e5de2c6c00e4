"""The one exception type users see: its message is a single line saying what and where."""


class MinionError(ValueError):
    """Bad input or state the user can fix; command lines print it as one line, no traceback.

    A `ValueError`, so code that catches a Keras layer's bad arguments as `ValueError`
    (as Keras' own layers raise them) still catches the package's.

    Example:
        >>> raise MinionError("data/train.tsv:3: empty text")
    """
