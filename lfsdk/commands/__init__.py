"""The `lfsdk` subcommands, one module each (see lfsdk.cli)."""
