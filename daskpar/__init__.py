"""daskpar: parallel, out-of-core training of scikit-learn models on Dask.

Every stage has one shape: lazy blocks are mapped to per-partition states, the states are
merged through a tree of fan-in ``split_every``, and the merged state is finalized into a
fitted scikit-learn object.
"""

from __future__ import annotations

from . import audit
from ._adaptive import AdaptiveSGDClassifier, AdaptiveSGDRegressor
from ._cluster import local_cluster
from ._cluster_check import NoWorkersError, VersionMismatchError, info
from ._compose import ColumnTransformer, make_column_transformer
from ._decomposition import PCA
from ._encoders import OneHotEncoder, OrdinalEncoder
from ._families import SUPPORTED_ESTIMATORS
from ._hashing import FeatureHasher
from ._incremental import ParallelIncremental, find_classes
from ._kmeans import KMeans
from ._linear import LinearRegression, Ridge
from ._preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from ._search import GridSearchCV, HalvingSearchCV, RandomizedSearchCV
from ._text import CountVectorizer, HashingVectorizer, TfidfTransformer, TfidfVectorizer
from ._truncated_svd import TruncatedSVD
from .data import (
    make_classification,
    make_regression,
    read_csv,
    read_hdf5,
    read_json,
    read_npy,
    read_parquet,
    read_svmlight,
    read_zarr,
    train_test_split,
    write_zarr,
)
from .errors import (
    CheckpointError,
    DaskparError,
    DivergenceError,
    InputError,
    PartitionError,
    SchedulerLostError,
    UnsupportedEstimatorError,
    WorkerKilledError,
)
from .persist import load, save

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_ESTIMATORS",
    "AdaptiveSGDClassifier",
    "AdaptiveSGDRegressor",
    "CheckpointError",
    "ColumnTransformer",
    "CountVectorizer",
    "DaskparError",
    "DivergenceError",
    "FeatureHasher",
    "GridSearchCV",
    "HashingVectorizer",
    "HalvingSearchCV",
    "InputError",
    "KMeans",
    "LinearRegression",
    "NoWorkersError",
    "MaxAbsScaler",
    "MinMaxScaler",
    "OneHotEncoder",
    "OrdinalEncoder",
    "PCA",
    "ParallelIncremental",
    "PartitionError",
    "RandomizedSearchCV",
    "Ridge",
    "SchedulerLostError",
    "StandardScaler",
    "TfidfTransformer",
    "TfidfVectorizer",
    "TruncatedSVD",
    "UnsupportedEstimatorError",
    "VersionMismatchError",
    "WorkerKilledError",
    "__version__",
    "audit",
    "find_classes",
    "info",
    "load",
    "local_cluster",
    "make_classification",
    "make_column_transformer",
    "make_regression",
    "read_csv",
    "read_hdf5",
    "read_json",
    "read_npy",
    "read_parquet",
    "read_svmlight",
    "read_zarr",
    "save",
    "train_test_split",
    "write_zarr",
]
