"""User-facing errors: the CLI prints their message as one line and exits 2."""


class EdgekdError(Exception):
    """Bad input or an unmet precondition; the message says what is wrong and how to fix it."""


class VerificationError(EdgekdError):
    """A compiled model does not compute what its source model computes."""
