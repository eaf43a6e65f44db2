"""Flow files into pandas, through metaforest's own readers (the CLI's semantics exactly)."""

import os

import pandas as pd

from metaforest import _native


def read_flows(path, format="csv", schema="nf-v2", *, allow_unlabelled=False, max_rows=None,
               categories="codes"):
    """Reads a flow file into a pandas DataFrame.

    ``format``: ``"csv"`` (plain or gzip) or ``"parquet"``. ``schema``: a built-in schema name
    (``nf-v2``, ``nsl-kdd``, ``unsw-nb15``, ``cicflowmeter``, ``zeek-conn``) or the path of a TOML
    schema file; Parquet column names are matched as CSV header names are.

    The frame holds the feature columns (float64; NaN = missing) followed by ``label`` (0 benign,
    1 attack), ``attack_class`` and ``domain``. Categorical features are the library's codes
    (``categories="codes"``, what the forest sees) or pandas categoricals of the original strings
    (``categories="strings"``).
    """
    features, names, dictionaries, label, class_codes, class_names, domains, domain_names = (
        _native.read_flows(os.fspath(path), format, os.fspath(schema), allow_unlabelled, max_rows)
    )
    columns = {}
    for j, name in enumerate(names):
        column = features[:, j]
        if categories == "strings" and dictionaries[j] is not None:
            codes = pd.Series(column).fillna(-1).astype("int64").to_numpy()
            column = pd.Categorical.from_codes(codes, categories=dictionaries[j])
        columns[name] = column
    columns["label"] = label
    columns["attack_class"] = pd.Categorical.from_codes(class_codes.astype("int64"), class_names)
    columns["domain"] = pd.Categorical.from_codes(domains.astype("int64"), domain_names)
    return pd.DataFrame(columns, copy=False)
