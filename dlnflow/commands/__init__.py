"""Subcommands of the ``dlnflow`` command line, one module each (discovered by dlnflow.cli)."""
