"""Lifetime value from a per-customer summary, with the Rust fits of ``propensity clv --summary``.

>>> from propensity import clv
>>> customers, fits = clv.fit(summary_frame, period="week")   # pandas, polars or pyarrow
>>> fits["repeat_model"]                                       # BG/NBD: estimates, standard errors, LL, AIC
>>> customers[["customer", "p_alive", "expected_purchases", "clv"]]

The summary has lifetimes' columns ``customer_id, frequency, recency, T`` and optionally
``monetary_value`` (then Gamma-Gamma and CLV are fitted too), times in ``period`` units — what
``lifetimes.utils.summary_data_from_transaction_data`` or :func:`propensity.spark.customer_summary`
gives.
"""

import json
import tempfile
from pathlib import Path

from . import _propensity, _to_arrow

__all__ = ["fit"]


def fit(summary, period="week", model="bgnbd", months=12, discount_rate=0.01):
    """Fits ``model`` (``bgnbd``, ``mbgnbd``, ``pareto-nbd`` or ``bgbb``) and, with a
    ``monetary_value`` column, Gamma-Gamma by maximum likelihood; returns the per-customer
    predictions (``customer, frequency, recency, T`` in weeks, ``p_alive``, ``expected_purchases``
    and ``p_any`` over ``months``, ``expected_value`` and ``clv`` discounted by ``discount_rate`` a
    month) as the same kind of table as ``summary``, and the fits as a dict. A bad row raises
    :class:`propensity.ScoringError` naming the line of the summary as CSV and the column."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table, back = _to_arrow(summary)
    missing = [c for c in ("customer_id", "frequency", "recency", "T") if c not in table.column_names]
    if missing:
        raise ValueError(f"the summary lacks the columns {missing}; it has {table.column_names}")
    monetary = "monetary_value" in table.column_names
    with tempfile.TemporaryDirectory() as d:
        source, target = Path(d) / "summary.csv", Path(d) / "customers.csv"
        pcsv.write_csv(table, source)
        fits = _propensity.fit_clv_summary(str(source), str(target), period, model, months, discount_rate, monetary)
        options = pcsv.ConvertOptions(column_types={"customer": pa.string()})
        customers = pcsv.read_csv(target, convert_options=options)
    return back(customers), json.loads(fits)
