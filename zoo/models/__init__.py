"""Model builders and the preset registry."""
