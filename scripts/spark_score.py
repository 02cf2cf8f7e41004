"""Scores a Parquet folder into a Parquet folder with Spark, one Arrow batch at a time on every executor.

    spark-submit --master local[2] scripts/spark_score.py MODEL.json INPUT_FOLDER OUTPUT_FOLDER

Every executor needs the propensity wheel installed (PYSPARK_PYTHON names that interpreter) and the
model file at a path it can read.
"""

import sys

from pyspark.sql import SparkSession

from propensity import spark as ps


def main(model, source, target):
    session = SparkSession.builder.appName("propensity score").getOrCreate()
    try:
        df = session.read.parquet(source)
        scored = df.mapInArrow(ps.scorer(model), ps.output_schema(model, df))
        scored.write.mode("error").parquet(target)
    finally:
        session.stop()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
