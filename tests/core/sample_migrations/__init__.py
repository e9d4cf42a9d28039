"""A sample migration folder laid out the way each plane lays out its own (env.py, versions/)."""
