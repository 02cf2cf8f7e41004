"""The CLI, the Python package and Spark (local[2]) give identical scores on the same Parquet input.

Run by .ci/run after `maturin build` and `pip install` of the wheel:
    PROPENSITY_BIN=target/release/propensity pytest tests/python
(the binary built with `--features arrow`; Spark needs Java 17 and PYSPARK_PYTHON set to this
interpreter, which the fixture does).
"""

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import propensity

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("PROPENSITY_BIN", str(ROOT / "target/release/propensity"))


def run(*args):
    done = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, f"propensity {' '.join(map(str, args))}: {done.stderr}"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A trained audiobooks model, 20,000 generated customers as Parquet, and the CLI's scores."""
    d = tmp_path_factory.mktemp("scoring")
    run("audiobooks", "--out", d / "ab", "--no-record")
    run("generate", "audiobooks", "--rows", 20_000, "--seed", 5, "--output", d / "customers.csv")
    table = pcsv.read_csv(d / "customers.csv")
    # a data lake's file: a few row groups, a missing review rating (the model fills it)
    ratings = table.column("Review ?/10").to_pylist()
    ratings[7] = None
    table = table.set_column(table.schema.get_field_index("Review ?/10"), "Review ?/10", pa.array(ratings))
    pq.write_table(table, d / "customers.parquet", row_group_size=6_000)
    run("score", "--model", d / "ab/model.json", "--input", d / "customers.parquet", "--output", d / "cli.parquet")
    return d


def by_id(table):
    return table.sort_by("ID")


def test_python_scores_equal_the_cli_for_pyarrow_pandas_and_polars(work):
    cli = pq.read_table(work / "cli.parquet")
    assert cli.column_names == ["ID", "p_0", "p_1", "predicted"]
    assert cli.num_rows == 20_000
    model = propensity.load(work / "ab/model.json")
    assert model.classes == ["0", "1"] and model.id_columns == ["ID"]
    lake = pq.read_table(work / "customers.parquet")
    assert model.score(lake).equals(cli)
    import pandas as pd
    import polars as pl

    frame = lake.to_pandas()
    assert isinstance(model.score(frame), pd.DataFrame)
    assert pa.Table.from_pandas(model.score(frame), preserve_index=False).cast(cli.schema).equals(cli)
    scored = model.score(pl.from_arrow(lake))
    assert isinstance(scored, pl.DataFrame)
    assert scored.to_arrow().cast(cli.schema).equals(cli)
    # the file scorer is the CLI's
    out = model.score_file(work / "customers.parquet", work / "py.parquet")
    assert out == {"rows_scored": 20_000, "rows_skipped": 0, "bad_rows": []}
    assert pq.read_table(work / "py.parquet").equals(cli)


def test_bad_rows_raise_or_are_skipped_with_their_row_and_column(work):
    model = propensity.load(work / "ab/model.json")
    lake = pq.read_table(work / "customers.parquet").slice(0, 10)
    prices = lake.column("Price_avg").to_pylist()
    prices[4] = None  # the model has no fill for a price
    holed = lake.set_column(lake.schema.get_field_index("Price_avg"), "Price_avg", pa.array(prices))
    with pytest.raises(propensity.ScoringError, match=r"the table, row 5: column `Price_avg`: missing value"):
        model.score(holed)
    scores, bad = model.score_skipping(holed)
    assert scores.num_rows == 9 and bad == [(5, "column `Price_avg`: missing value (the model has no fill for it)")]
    with pytest.raises(propensity.ScoringError, match=r"needs columns \[\"Price_avg\"\]"):
        model.score(holed.drop_columns(["Price_avg"]))
    with pytest.raises(TypeError, match="cannot score a dict"):
        model.score({"Price_avg": [1.0]})
    with pytest.raises(OSError, match="nope.json"):
        propensity.load(work / "nope.json")


def test_spark_map_in_arrow_scores_equal_the_cli(work):
    pyspark = pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from propensity import spark as ps

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("propensity-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    try:
        df = session.read.parquet(str(work / "customers.parquet"))
        assert df.rdd.getNumPartitions() >= 1
        schema = ps.output_schema(str(work / "ab/model.json"), df)
        assert schema == "`ID` bigint, `p_0` float, `p_1` float, `predicted` string"
        scored = df.repartition(3).mapInArrow(ps.scorer(str(work / "ab/model.json")), schema)
        scored.write.parquet(str(work / "spark-scores"))
    finally:
        session.stop()
    spark = pq.read_table(work / "spark-scores")
    cli = pq.read_table(work / "cli.parquet")
    assert spark.num_rows == cli.num_rows
    # Spark's schema marks every column nullable: compare the values
    assert by_id(spark).cast(cli.schema).equals(by_id(cli))


def test_the_spark_submit_example_scores_a_parquet_folder_as_the_cli_does(work):
    pytest.importorskip("pyspark")
    folder = work / "lake"
    folder.mkdir()
    lake = pq.read_table(work / "customers.parquet")
    for k, part in enumerate([lake.slice(0, 12_000), lake.slice(12_000)]):
        pq.write_table(part, folder / f"part-{k}.parquet")
    submit = Path(sys.executable).parent / "spark-submit"
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    done = subprocess.run(
        [str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false", str(ROOT / "scripts/spark_score.py"),
         str(work / "ab/model.json"), str(folder), str(work / "submitted")],
        capture_output=True, text=True, env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cli = pq.read_table(work / "cli.parquet")
    assert by_id(pq.read_table(work / "submitted")).cast(cli.schema).equals(by_id(cli))


def test_the_spark_customer_summary_equals_the_in_memory_one_on_cdnow(tmp_path):
    """`propensity clv` on the CDNOW log (23,570 customers, weeks, calibration to 1997-09-30)
    against `propensity.spark.customer_summary` on the same log in Spark local[2]."""
    pytest.importorskip("pyspark")
    import pandas as pd
    from pyspark.sql import SparkSession

    from propensity import spark as ps

    raw = pd.read_csv(
        ROOT / "data/CDNOW_master.txt",
        sep=r"\s+",
        dtype={"customer_id": str, "date": str},
    )
    log = tmp_path / "cdnow.csv"
    raw.to_csv(log, index=False)
    run("clv", "--transactions", log, "--customer", "customer_id", "--date", "date", "--amount", "dollar_value",
        "--calibration-end", "1997-09-30", "--period", "week", "--out", tmp_path / "clv")
    expected = pd.read_csv(tmp_path / "clv/summary.csv", dtype={"customer_id": str}, float_precision="round_trip").set_index("customer_id")
    assert len(expected) == 23_570

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    try:
        df = session.read.csv(str(log), header=True, schema="customer_id string, date string, number_of_cds int, dollar_value double")
        summary = ps.customer_summary(df, "customer_id", "date", "1997-09-30", amount="dollar_value",
                                      period="week", date_format="yyyyMMdd")
        got = summary.toPandas().set_index("customer_id").sort_index()
    finally:
        session.stop()
    expected = expected.sort_index()
    assert list(got.index) == list(expected.index)
    for column in ["frequency", "recency", "T"]:
        assert (got[column].to_numpy() == expected[column].to_numpy()).all(), column
    assert expected["frequency"].sum() == 22_198  # lifetimes 0.11.3, freq="W" (tests/fixtures)
    # amounts are summed in another order by Spark: equal to 1e-9
    assert ((got["monetary_value"] - expected["monetary_value"]).abs() <= 1e-9 * expected["monetary_value"].abs().clip(lower=1)).all()


def test_python_clv_fits_equal_the_cli_on_its_summary(tmp_path):
    """propensity.clv.fit on the CDNOW weekly summary (`propensity clv` wrote it) gives the CLI's fits.
    The CSVs are read with pandas' round-trip float parser: pandas 2's default one can change a
    value's last bit."""
    import json

    import pandas as pd

    from propensity import clv

    raw = pd.read_csv(ROOT / "data/CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str, "date": str})
    log = tmp_path / "cdnow.csv"
    raw.to_csv(log, index=False)
    run("clv", "--transactions", log, "--customer", "customer_id", "--date", "date", "--amount", "dollar_value",
        "--calibration-end", "1997-09-30", "--period", "week", "--out", tmp_path / "clv")
    cli = json.loads((tmp_path / "clv/clv.json").read_text())
    summary = pd.read_csv(tmp_path / "clv/summary.csv", dtype={"customer_id": str}, float_precision="round_trip")
    customers, fits = clv.fit(summary, period="week")
    for fit in (fits["repeat_model"], cli["repeat_model"], fits["gamma_gamma"], cli["gamma_gamma"]):
        del fit["fit"]["seconds"]  # wall time
    assert fits["repeat_model"] == cli["repeat_model"]
    assert fits["gamma_gamma"] == cli["gamma_gamma"]
    assert fits["repeat_model"]["fit"]["log_likelihood"] == cli["repeat_model"]["fit"]["log_likelihood"]
    expected = pd.read_csv(tmp_path / "clv/customers.csv", dtype={"customer": str}, float_precision="round_trip")
    assert isinstance(customers, pd.DataFrame) and len(customers) == 23_570
    for column in ["p_alive", "expected_purchases", "clv"]:
        assert (customers[column] == expected[column]).all(), column
    with pytest.raises(ValueError, match="lacks the columns"):
        clv.fit(summary.drop(columns=["T"]))
