"""The `dda` command line."""
