"""One list of methods (s3core.methods.catalog): the config schema, the registry and the report agree with it."""

from __future__ import annotations

from s3core.config import schema as config
from s3core.methods import get_method
from s3core.methods.catalog import CATALOG
from s3core.reporting.tables import PAPER_ORDER, label


def test_the_schema_offers_exactly_the_catalog_in_its_order():
    methods = config.schema()["properties"]["eval"]["properties"]["methods"]
    assert methods["items"]["enum"] == list(CATALOG)
    assert methods["default"] == [m for m in CATALOG if m != "s3_released"]


def test_every_catalogued_method_is_registered_under_its_name():
    assert [get_method(name).name for name in CATALOG] == list(CATALOG)


def test_the_report_orders_and_labels_rows_from_the_catalog():
    assert PAPER_ORDER == list(CATALOG)
    assert [label(m) for m in ("rag_dense", "s3_step0", "s3.no_selection")] == [
        "RAG-dense",
        "s3 (step 0)",
        "s3 [no_selection]",
    ]
