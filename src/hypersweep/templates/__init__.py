"""Template files `hypersweep init` renders (package data, read with importlib.resources)."""
