"""The torch-free core every stage reads: registries, paths, execution settings, io, devices."""
