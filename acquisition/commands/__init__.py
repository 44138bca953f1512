"""Subcommands of ``avalab``. Every module here with a ``register(subparsers)`` is picked up by
``acquisition.cli`` automatically: drop a module in, no other file needs editing."""
