import pytest

from callcentre.common.compat import AirflowFailException
from callcentre.ivr.business_day import HOURS
from callcentre.ivr.options import RunOptions


def test_defaults_load_the_whole_day_in_quarantine_mode():
    opts = RunOptions.from_params({})
    assert opts.hours == HOURS
    assert opts.invalid_rows == "quarantine" and not opts.dry_run


def test_a_subset_of_hours_is_sorted_and_deduplicated():
    opts = RunOptions.from_params({"hours": [5, 3, 5, "7"]})
    assert opts.hours == (3, 5, 7)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hours": [24]}, "hours: 24"),
        ({"hours": ["x"]}, "hours: 'x'"),
        ({"hours": [True]}, "hours: True"),
        ({"invalid_rows": "skip"}, "invalid_rows='skip'"),
        ({"max_reject_ratio": 1.5}, "max_reject_ratio=1.5"),
        ({"max_reject_ratio": "0.1"}, "max_reject_ratio='0.1'"),
        ({"chunk_size": 10}, "chunk_size=10"),
        ({"min_calls": -1}, "min_calls=-1"),
        ({"min_calls": "1"}, "min_calls='1'"),
        ({"dry_run": "yes"}, "dry_run='yes'"),
        ({"dryrun": True}, "unknown param"),
    ],
)
def test_invalid_params_fail_without_retry_and_say_why(params, message):
    with pytest.raises(AirflowFailException, match="invalid run params") as err:
        RunOptions.from_params(params)
    assert message in str(err.value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(AirflowFailException) as err:
        RunOptions.from_params({"hours": [99], "chunk_size": 1})
    assert "hours: 99" in str(err.value) and "chunk_size=1" in str(err.value)
