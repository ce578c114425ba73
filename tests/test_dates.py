"""Dates as exports write them (index/dates.py)."""
import pytest

from index.dates import article_date, instant, line_date


@pytest.mark.parametrize("raw, want", [
    ("Wed, 10 Feb 2021 04:35:00 +0530", "2021-02-10"),
    ("2021-02-10T00:30:00+05:30", "2021-02-10"),  # the date as written, not the UTC one
    ("2021-02-09T20:00:00Z", "2021-02-09"),
    ("2021-02-10", "2021-02-10"),
    ("Feb 10, 2021, 04:35 AM IST", "2021-02-10"),
    ("February 3, 2022", "2022-02-03"),
    ("2021-02-31", None),
    ("next Tuesday", None),
])
def test_article_dates(raw, want):
    assert article_date(raw) == want


def test_an_instant_needs_a_zone():
    assert instant("2099-01-01T11:00:00+05:30").isoformat() == "2099-01-01T05:30:00+00:00"
    assert instant("Fri, 01 Jan 2099 11:00:00 +0530").isoformat() == "2099-01-01T05:30:00+00:00"
    with pytest.raises(ValueError, match="no time zone"):
        instant("2099-01-01T11:00:00")
    with pytest.raises(ValueError, match="not a date"):
        instant("soon")


def test_date_lines():
    assert line_date("Updated: Feb 10, 2021, 04:35 AM IST") == "2021-02-10"
    assert line_date("2023-03-26") == "2023-03-26"
    assert line_date("On Feb 10, 2021 the ministry said") is None
