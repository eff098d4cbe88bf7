"""The mmopt version (one place; the package, provenance and sidecars read it)."""
__version__ = "0.1.0"
