"""Score customers with a saved propensity model from Python.

The scoring runs in Rust (the same code as ``propensity score`` and the Spark scorer), on the
table's Arrow buffers: no copy of the input, no loop over rows in Python.

>>> import propensity, pandas as pd
>>> model = propensity.load("out/audiobooks/model.json")
>>> scores = model.score(pd.read_csv("customers.csv"))      # a pandas DataFrame back
>>> scores = model.score(polars_df)                         # a polars DataFrame back
>>> scores = model.score(pyarrow_table_or_batch)            # a pyarrow Table back
>>> model.score_file("lake/customers.parquet", "scores.parquet")
"""

from ._propensity import ScoringError, __version__
from ._propensity import Model as _Model

__all__ = ["Model", "ScoringError", "load", "__version__"]


def _to_arrow(data):
    """``data`` as a pyarrow Table, and a function that turns the scores back into its kind."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data, lambda t: t
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data]), lambda t: t
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        # NaN in a float column becomes null: missing, as an empty CSV cell
        return pa.Table.from_pandas(data, preserve_index=False), lambda t: t.to_pandas()
    if module == "polars":
        import polars as pl

        return data.to_arrow(), pl.from_arrow
    raise TypeError(
        f"cannot score a {type(data).__name__}: pass a pyarrow Table or RecordBatch, "
        "a pandas DataFrame or a polars DataFrame"
    )


class Model:
    """A saved model (``model.json`` written by ``propensity train``, ``audiobooks``, ...)."""

    def __init__(self, path):
        self._model = _Model(str(path))
        self.path = str(path)

    @property
    def classes(self):
        """The class names, in the order of the ``p_<class>`` columns (empty for a regressor)."""
        return self._model.classes

    @property
    def columns(self):
        """The columns the model reads (found by name; other columns are ignored)."""
        return self._model.columns

    @property
    def id_columns(self):
        """The columns copied to the scores (empty: rows are numbered from 1 in ``id``)."""
        return self._model.id_columns

    def output_schema(self, schema):
        """The pyarrow schema of the scores of a table with pyarrow ``schema``."""
        return self._model.output_schema(schema)

    def score(self, data):
        """Scores of every row: the id columns, ``p_<class>`` per class and ``predicted`` (or a
        regressor's ``predicted_<target>``), as the same kind of table as ``data``. A row the
        model cannot read raises :class:`ScoringError` naming the row and column."""
        table, back = _to_arrow(data)
        scores, _ = self._model.score_batches(table.to_batches(), table.schema, False)
        return back(self._table(scores, table.schema))

    def score_skipping(self, data):
        """Like :meth:`score`, but rows the model cannot read are left out and returned as a list
        of ``(row, message)`` (rows counted from 1)."""
        table, back = _to_arrow(data)
        scores, bad = self._model.score_batches(table.to_batches(), table.schema, True)
        return back(self._table(scores, table.schema)), bad

    def score_file(self, input, output, skip_bad=False, batch_rows=65_536):
        """Scores a CSV, gzipped CSV or Parquet file into a CSV or Parquet file (by extension),
        streamed with flat memory and written atomically, as ``propensity score`` does. Returns
        a dict with ``rows_scored``, ``rows_skipped`` and ``bad_rows``."""
        scored, skipped, bad = self._model.score_file(str(input), str(output), skip_bad, batch_rows)
        return {"rows_scored": scored, "rows_skipped": skipped, "bad_rows": bad}

    def _table(self, batches, schema):
        import pyarrow as pa

        return pa.Table.from_batches(batches, schema=self._model.output_schema(schema))

    def __repr__(self):
        return repr(self._model)


def load(path):
    """Reads and checks a saved model."""
    return Model(path)
