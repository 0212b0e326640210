"""Built-in observers."""
