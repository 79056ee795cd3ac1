"""hallboard: a self-hostable realtime display server for schools."""

__version__ = "0.1.0"
