"""Canonical data model, validation, demo simulator and adapters for public datasets."""

from contentlab.data.adapters import (
    AdapterReport,
    load_cdnow,
    load_files,
    load_movielens,
    load_online_retail,
)
from contentlab.data.io import Dataset, read_dataset, write_dataset
from contentlab.data.schema import TABLES
from contentlab.data.validate import (
    DataValidationError,
    TableReport,
    ValidationReport,
    validate_table,
    validate_tables,
)

__all__ = [
    "AdapterReport",
    "Dataset",
    "DataValidationError",
    "TABLES",
    "TableReport",
    "ValidationReport",
    "load_cdnow",
    "load_files",
    "load_movielens",
    "load_online_retail",
    "read_dataset",
    "validate_table",
    "validate_tables",
    "write_dataset",
]
