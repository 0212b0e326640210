"""Built-in update rules."""
