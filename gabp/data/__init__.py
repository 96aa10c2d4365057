"""Data for gabp: built-in datasets, CSV loading, series windows, scaling and splits.

The one way to get model-ready data::

    from gabp.data import load_dataset, split_task
    task = split_task(load_dataset("sunspots"), val_fraction=0.15, test_fraction=0.15)
    # train on task.X_train / task.y_train, select on task.X_val / task.y_val,
    # report once on task.X_test / task.y_test (never used by training or fitness).
"""

from ._dataset import Dataset
from .builtin import (
    SunspotsSplit,
    list_datasets,
    load_breast_cancer,
    load_dataset,
    load_digits,
    load_function,
    load_iris,
    load_mackey_glass,
    load_sunspots,
    load_wine,
    load_xor,
    sunspots_classic_split,
)
from .csv_io import load_csv, read_table
from .encoding import OneHotEncoder
from .mackey_glass import MackeyGlassBenchmark, mackey_glass, mackey_glass_benchmark
from .scaling import MinMaxScaler, StandardScaler, scaler_from_dict
from .series import (
    ChronologicalSplit,
    WalkForwardResult,
    Windows,
    chronological_split,
    forecast_direct,
    forecast_recursive,
    make_windows,
    walk_forward,
)
from .splits import random_split, stratified_split
from .tasks import TaskData, split_task

__all__ = [
    "ChronologicalSplit",
    "Dataset",
    "MackeyGlassBenchmark",
    "MinMaxScaler",
    "OneHotEncoder",
    "StandardScaler",
    "SunspotsSplit",
    "TaskData",
    "WalkForwardResult",
    "Windows",
    "chronological_split",
    "forecast_direct",
    "forecast_recursive",
    "list_datasets",
    "load_breast_cancer",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_function",
    "load_iris",
    "load_mackey_glass",
    "load_sunspots",
    "load_wine",
    "load_xor",
    "mackey_glass",
    "mackey_glass_benchmark",
    "make_windows",
    "random_split",
    "read_table",
    "scaler_from_dict",
    "split_task",
    "stratified_split",
    "sunspots_classic_split",
    "walk_forward",
]
