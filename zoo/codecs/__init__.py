"""Codecs: landmarks <-> training targets."""
