"""Command-line subcommands of this stage (none yet)."""


def register(subparsers) -> None:
    """Add this stage's subcommands to the ``drgdip`` parser."""
