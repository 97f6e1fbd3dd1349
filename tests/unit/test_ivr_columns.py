"""The column contract: every column list of the load derives from columns.SOURCE."""

import re
from datetime import date

from callcentre.ivr import columns, load, rules, source, synthetic
from callcentre.ivr.columns import SOURCE, Column
from tests.unit import test_ivr_rules

NEW = Column("language", "varchar(8)", "text")


def test_the_extract_renders_every_contract_column_in_order_then_the_rule():
    fields = re.findall(r"IF(?:NULL)?\((\w+)|, (\w+)(?=,)", source.extract_sql().split("reject_reason")[0])
    named = [a or b for a, b in fields]
    assert [n for n in named if n in columns.BY_NAME] == list(columns.SOURCE_NAMES)
    assert source.extract_sql().count("CASE WHEN") == 1  # the rule's field, last


def test_the_stage_holds_each_column_with_its_type_then_the_reason():
    body = load.STAGE_DDL[load.STAGE_DDL.index("(") + 1:load.STAGE_DDL.rindex(")")]
    assert [tuple(part.split(" ", 1)) for part in body.split(", ")] == [
        *((c.name, c.pg_type) for c in SOURCE), ("reject_reason", "text")]


def test_calls_store_each_value_as_read_and_the_derived_instants():
    for c in SOURCE:
        assert load.CALLS_VALUES[c.calls_column] == f"s.{c.name}"
        for name, expression in c.derived.items():
            assert load.CALLS_VALUES[name] == expression
    assert set(load.CALLS_VALUES) == {"call_id", "business_date", "local_hour",
                                      *(c.calls_column for c in SOURCE), *(n for c in SOURCE for n in c.derived)}


def test_rejects_keep_every_raw_value_and_the_reason():
    assert list(load.REJECTS_VALUES) == ["call_id", "business_date", "local_hour", "reject_reason",
                                         *columns.SOURCE_NAMES[1:]]


def test_validation_and_the_synthetic_source_read_rows_in_the_contract_order():
    assert test_ivr_rules.SOURCE_NAMES is columns.SOURCE_NAMES
    row = synthetic.day_calls(date(2026, 11, 20), 1, invalid_share=0)[0]
    assert len(row) == len(SOURCE)
    assert test_ivr_rules.reject_reason(row) is None


def test_each_reject_example_shows_the_column_its_rule_is_about():
    selected = load.EXAMPLES_SQL.split("SELECT ", 1)[1].split(" FROM", 1)[0].split(", ")
    for reason, column in rules.REASON_COLUMN.items():
        assert selected[load._EXAMPLE_VALUE[column]].split("::")[0] == column, reason


def test_a_new_column_reaches_the_stage_both_tables_and_the_drift_checksum():
    extended = (*SOURCE, NEW)
    assert "language varchar(8), reject_reason text" in columns.stage_ddl(source=extended)
    assert columns.calls_values(extended)["language"] == "s.language"
    assert columns.rejects_values(extended)["language"] == "s.language"
    assert columns.compared("calls", extended)[-1] == "language"


def test_the_drift_checksum_reads_calls_by_the_columns_holding_the_values_as_read():
    assert columns.compared("source") == columns.SOURCE_NAMES
    assert columns.compared("calls") == ("call_id", "start_local", "end_local", *columns.SOURCE_NAMES[3:-1],
                                         "source_updated_at")
