"""Filtering synthetic images."""
