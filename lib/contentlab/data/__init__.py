"""Canonical data model, validation, demo simulator and adapters for public datasets."""

from contentlab.data.io import Dataset, read_dataset, write_dataset
from contentlab.data.schema import TABLES

__all__ = ["Dataset", "TABLES", "read_dataset", "write_dataset"]
