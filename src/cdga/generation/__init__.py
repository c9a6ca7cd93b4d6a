"""Synthetic image generation."""
