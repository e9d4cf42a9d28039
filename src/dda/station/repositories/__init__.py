"""Queries, one module per table family. Functions take a Session and never commit."""
