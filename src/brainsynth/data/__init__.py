"""Data: finding BraTS cases, loading volumes, preparing 2D slices, reading prepared sets."""
