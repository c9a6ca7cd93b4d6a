"""Datasets: download, preparation, shards."""
