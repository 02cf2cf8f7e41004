"""Scoring Spark DataFrames partition by partition with ``mapInArrow``.

>>> from propensity import spark as ps
>>> df = session.read.parquet("lake/customers/")
>>> scored = df.mapInArrow(ps.scorer("model.json"), ps.output_schema("model.json", df))
>>> scored.write.parquet("lake/scores/")

Each executor loads the model once per partition from ``model_path`` (a path every executor
can read) and scores each Arrow batch Spark hands it with the same Rust code as the CLI.
"""

import pyarrow as pa

_SPARK_TYPES = {
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.float32(): "float",
    pa.float64(): "double",
    pa.string(): "string",
    pa.large_string(): "string",
    pa.bool_(): "boolean",
    pa.date32(): "date",
}


def _spark_type(field):
    if pa.types.is_timestamp(field.type):
        return "timestamp"
    try:
        return _SPARK_TYPES[field.type]
    except KeyError:
        raise TypeError(f"column `{field.name}` has Arrow type {field.type}, which has no Spark type here")


def _arrow_schema(df):
    """The Arrow schema Spark gives ``mapInArrow`` batches of ``df``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema)


def output_schema(model_path, df):
    """The scores' schema as a Spark DDL string (``ID bigint, p_0 float, ..., predicted string``)."""
    from . import load

    schema = load(model_path).output_schema(_arrow_schema(df))
    return ", ".join(f"`{f.name}` {_spark_type(f)}" for f in schema)


def scorer(model_path, skip_bad=False):
    """The function to give ``DataFrame.mapInArrow``: it scores the partition's Arrow batches.
    A row the model cannot read fails the task with :class:`propensity.ScoringError` (naming the
    column, and the row within the Arrow batch Spark passed), or is left out with ``skip_bad``."""

    def score(batches):
        from . import load

        model = load(model_path)._model
        schema = None
        for batch in batches:
            schema = schema or batch.schema
            scores, _ = model.score_batches([batch], schema, skip_bad)
            yield from scores

    return score


# Weeks per period, as propensity's `Period::weeks` multiplies them (a month is 4.345 weeks,
# lifetimes' factor; a day is divided by 7).
_WEEKS_PER_MONTH = 4.345


def _period_index(day, period):
    """The period holding ``day`` (a ``datetime.date``), numbered as propensity numbers them."""
    import datetime

    days = (day - datetime.date(1970, 1, 1)).days
    return {
        "day": days,
        "week": (days + 3) // 7,  # weeks run Monday to Sunday, as pandas' "W"
        "month": day.year * 12 + day.month - 1,
        "year": day.year,
    }[period]


def _in_weeks(column, period):
    if period == "day":
        return column.cast("double") / 7.0
    if period == "week":
        return column.cast("double")
    if period == "month":
        return column.cast("double") * _WEEKS_PER_MONTH
    return column.cast("double") * 12.0 * _WEEKS_PER_MONTH


def customer_summary(df, customer, date, calibration_end, amount=None, period="week", date_format=None):
    """The per-customer summary the lifetime-value models are fitted on, as a Spark query, so a
    transaction log of billions of rows is aggregated across the cluster and only one row per
    customer reaches the fit (``propensity clv --summary``).

    The rule is ``propensity clv``'s (lifetimes' ``calibration_and_holdout_data``): purchases up to
    ``calibration_end`` (``YYYY-MM-DD``, inclusive) are grouped by customer and ``period`` (``day``,
    ``week`` Monday to Sunday, ``month`` or ``year``); frequency = periods with a purchase - 1;
    recency = last - first of them and T = the calibration end's period - the first, in weeks;
    monetary_value = the mean amount of the repeat periods (0 without repeats).

    ``date`` is a date or timestamp column, or text parsed with Spark's ``date_format``
    (``yyyyMMdd``). Returns ``customer_id, frequency, recency, T[, monetary_value]``.
    """
    import datetime

    from pyspark.sql import functions as F

    if period not in ("day", "week", "month", "year"):
        raise ValueError(f"period must be day, week, month or year, not {period!r}")
    end_day = datetime.date.fromisoformat(calibration_end)
    end = _period_index(end_day, period)
    d = F.to_date(F.col(date), date_format) if date_format else F.col(date).cast("date")
    days = F.datediff(d, F.lit(datetime.date(1970, 1, 1)))
    index = {
        "day": days,
        "week": F.floor((days + 3) / 7),
        "month": F.year(d) * 12 + F.month(d) - 1,
        "year": F.year(d),
    }[period]
    calibration = df.where(d <= F.lit(end_day))
    spent = [F.sum(F.col(amount).cast("double")).alias("amount")] if amount else [F.lit(0.0).alias("amount")]
    periods = calibration.groupBy(F.col(customer).alias("customer_id"), index.alias("period")).agg(*spent)
    per_customer = periods.groupBy("customer_id").agg(
        F.min("period").alias("p0"),
        F.max("period").alias("p1"),
        F.count("*").alias("n"),
        F.sum("amount").alias("total"),
        F.min_by("amount", "period").alias("first"),
    )
    columns = [
        F.col("customer_id"),
        (F.col("n") - 1).cast("double").alias("frequency"),
        _in_weeks(F.col("p1") - F.col("p0"), period).alias("recency"),
        _in_weeks(F.lit(end) - F.col("p0"), period).alias("T"),
    ]
    if amount:
        repeat_mean = (F.col("total") - F.col("first")) / (F.col("n") - 1)
        columns.append(F.when(F.col("n") > 1, repeat_mean).otherwise(F.lit(0.0)).alias("monetary_value"))
    return per_customer.select(*columns)
