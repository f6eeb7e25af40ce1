"""The one exception type for mistakes in what the user gave us."""


class UserError(Exception):
    """Bad census, config or arguments: reported as one line, exit code 2, no traceback."""


class ResourceLimitError(Exception):
    """The memory limit was hit: reported as one line, exit code 3."""
