import numpy as np
import pandas as pd
import pytest

from metaforest import read_flows

SCHEMA = """
name = "test"
default = "numeric"
missing = ["-"]
benign_labels = ["0"]
benign_classes = ["normal"]
[columns]
id = "ignore"
proto = "categorical"
label = "label"
attack = "attack_class"
"""

CSV = """id,bytes,proto,dur,label,attack
1,10,tcp,0.5,0,normal
2,20,udp,-,1,scan
3,30,tcp,1.5,1,flood
"""


@pytest.fixture
def files(tmp_path):
    schema = tmp_path / "test.toml"
    schema.write_text(SCHEMA)
    csv = tmp_path / "flows.csv"
    csv.write_text(CSV)
    return schema, csv


def test_csv_into_a_dataframe(files):
    schema, csv = files
    df = read_flows(csv, format="csv", schema=schema)
    assert list(df.columns) == ["bytes", "proto", "dur", "label", "attack_class", "domain"]
    assert df["bytes"].tolist() == [10.0, 20.0, 30.0]
    assert np.isnan(df["dur"][1])
    assert df["label"].tolist() == [0, 1, 1]
    assert df["attack_class"].tolist() == ["normal", "scan", "flood"]
    assert df["domain"].tolist() == ["flows"] * 3
    strings = read_flows(csv, format="csv", schema=schema, categories="strings")
    assert strings["proto"].tolist() == ["tcp", "udp", "tcp"]


def test_parquet_reads_like_csv(files, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    schema, csv = files
    table = pa.table(
        {
            "id": [1, 2, 3],
            "bytes": [10, 20, 30],
            "proto": ["tcp", "udp", "tcp"],
            "dur": [0.5, None, 1.5],
            "label": [0, 1, 1],
            "attack": ["normal", "scan", "flood"],
        }
    )
    path = tmp_path / "flows.parquet"
    pq.write_table(table, path, row_group_size=2)
    from_parquet = read_flows(path, format="parquet", schema=schema)
    pd.testing.assert_frame_equal(from_parquet, read_flows(csv, format="csv", schema=schema))


def test_unknown_format_is_an_error(files):
    schema, csv = files
    with pytest.raises(ValueError, match="format"):
        read_flows(csv, format="xlsx", schema=schema)
