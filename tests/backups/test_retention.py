"""The grandfather-father-son rule, as properties over random backup histories and as worked examples."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from backups.retention import retained

MADRID = ZoneInfo("Europe/Madrid")

PERIODS = {
    "daily": lambda day: day,
    "weekly": lambda day: day.isocalendar()[:2],
    "monthly": lambda day: (day.year, day.month),
    "yearly": lambda day: day.year,
}


@st.composite
def histories(draw):
    """(id, aware datetime) pairs in one time zone, with distinct instants, in any order."""
    zone = draw(st.sampled_from([UTC, MADRID, timezone(timedelta(hours=-5))]))
    # Clustered and spread out: a few years, with many backups on some days.
    moments = draw(
        st.lists(
            st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(zone)),
            max_size=80,
            unique_by=lambda moment: moment.timestamp(),
        )
    )
    return list(enumerate(moments))


policies = st.fixed_dictionaries(
    {
        "daily": st.integers(0, 10),
        "weekly": st.integers(0, 6),
        "monthly": st.integers(0, 14),
        "yearly": st.none() | st.integers(0, 4),
    }
)


def newest_per_period(history, tier):
    newest = {}
    for key, when in history:
        period = PERIODS[tier](when.date())
        if period not in newest or when > newest[period][1]:
            newest[period] = (key, when)
    return newest


def most_recent_periods(history, tier, count):
    newest = newest_per_period(history, tier)
    recent = sorted(newest, key=lambda period: newest[period][1], reverse=True)
    return {period: newest[period][0] for period in (recent if count is None else recent[:count])}


def newest_key(history):
    return max(history, key=lambda pair: pair[1])[0]


@given(histories(), policies)
def test_the_newest_backup_is_always_kept(history, policy):
    kept = retained(history, **policy)
    if history:
        assert newest_key(history) in kept
    else:
        assert kept == set()


@given(histories(), policies)
def test_only_backups_that_were_offered_are_kept(history, policy):
    assert retained(history, **policy) <= {key for key, _ in history}


@given(histories(), policies)
def test_no_more_are_kept_than_the_policy_has_slots(history, policy):
    years = len({when.year for _, when in history}) if policy["yearly"] is None else policy["yearly"]
    slots = policy["daily"] + policy["weekly"] + policy["monthly"] + years
    assert len(retained(history, **policy)) <= max(slots, 1)


@given(histories(), policies)
def test_applying_the_rule_to_what_it_kept_keeps_all_of_it(history, policy):
    kept = retained(history, **policy)
    assert retained([pair for pair in history if pair[0] in kept], **policy) == kept


@given(histories(), policies)
def test_each_recent_day_keeps_exactly_its_newest_backup(history, policy):
    kept = retained(history, **policy)
    for day, key in most_recent_periods(history, "daily", policy["daily"]).items():
        assert {k for k, when in history if when.date() == day and k in kept} == {key}


@given(histories(), policies)
def test_each_recent_week_month_and_year_keeps_its_newest_backup(history, policy):
    kept = retained(history, **policy)
    for tier in ("weekly", "monthly", "yearly"):
        assert set(most_recent_periods(history, tier, policy[tier]).values()) <= kept, tier


@given(histories(), policies)
def test_nothing_is_kept_that_no_rule_asks_for(history, policy):
    wanted = {newest_key(history)} if history else set()
    for tier in PERIODS:
        wanted |= set(most_recent_periods(history, tier, policy[tier]).values())
    assert retained(history, **policy) == wanted


@given(histories(), policies)
def test_every_backup_kept_is_the_newest_of_its_day(history, policy):
    newest_of_day = {key for key, _ in newest_per_period(history, "daily").values()}
    assert retained(history, **policy) <= newest_of_day


# --- Worked examples --------------------------------------------------------------------------


def daily_for(days, start=date(2024, 1, 1), hour=3):
    return [(start + timedelta(days=n), datetime.combine(start + timedelta(days=n), datetime.min.time()).replace(hour=hour, tzinfo=MADRID)) for n in range(days)]  # fmt: skip


def test_four_hundred_daily_backups_keep_nineteen_with_the_default_policy():
    # 1 Jan 2024 to 3 Feb 2025 (a Monday).
    kept = retained(daily_for(400), daily=7, weekly=4, monthly=12, yearly=None)

    expected_days = [date(2025, 1, 28) + timedelta(days=n) for n in range(7)]  # 28 Jan .. 3 Feb
    expected_weeks = [date(2025, 1, 19), date(2025, 1, 26)]  # the Sundays of weeks 3 and 4
    expected_months = [date(2024, m + 1, 1) - timedelta(days=1) for m in range(3, 12)] + [date(2024, 12, 31)]
    assert sorted(kept) == sorted(expected_months + expected_weeks + expected_days)
    assert len(kept) == 19


def test_the_last_backup_of_each_older_year_is_kept_forever():
    history = daily_for(1096 + 10, start=date(2020, 1, 1))  # 1 Jan 2020 to 10 Jan 2023

    kept = retained(history, daily=0, weekly=0, monthly=0, yearly=None)

    assert kept == {date(2020, 12, 31), date(2021, 12, 31), date(2022, 12, 31), date(2023, 1, 10)}


def test_a_yearly_limit_drops_the_oldest_years():
    history = daily_for(1096 + 10, start=date(2020, 1, 1))  # 1 Jan 2020 to 10 Jan 2023

    kept = retained(history, daily=0, weekly=0, monthly=0, yearly=2)

    assert kept == {date(2022, 12, 31), date(2023, 1, 10)}


def test_with_no_slots_only_the_newest_backup_is_kept():
    assert retained(daily_for(30), daily=0, weekly=0, monthly=0, yearly=0) == {date(2024, 1, 30)}


def test_several_backups_on_one_day_keep_only_the_newest():
    day = datetime(2024, 5, 6, tzinfo=MADRID)
    history = [("morning", day.replace(hour=9)), ("night", day.replace(hour=23)), ("noon", day.replace(hour=12))]

    assert retained(history, daily=7, weekly=4, monthly=12, yearly=None) == {"night"}


def test_days_without_a_backup_do_not_use_up_daily_slots():
    history = [(n, datetime(2024, 5, 1 + 3 * n, 2, tzinfo=MADRID)) for n in range(5)]  # every third day

    assert retained(history, daily=5, weekly=0, monthly=0, yearly=0) == {0, 1, 2, 3, 4}


def test_a_backup_is_bucketed_by_the_local_date_it_is_given():
    # 23:30 in Madrid on 31 Dec is already 1 Jan in UTC: what counts is the date as given.
    late = datetime(2023, 12, 31, 23, 30, tzinfo=MADRID)
    history = [
        ("evening", late),
        ("earlier", late - timedelta(hours=3)),
        ("new year", datetime(2024, 1, 2, tzinfo=MADRID)),
    ]

    assert retained(history, daily=0, weekly=0, monthly=0, yearly=None) == {"evening", "new year"}


def test_weeks_are_iso_weeks_across_the_new_year():
    # Monday 30 Dec 2024 belongs to ISO week 1 of 2025, together with Wednesday 1 Jan 2025.
    history = [("sunday", datetime(2024, 12, 29, 2, tzinfo=UTC)), ("monday", datetime(2024, 12, 30, 2, tzinfo=UTC)),
               ("wednesday", datetime(2025, 1, 1, 2, tzinfo=UTC))]  # fmt: skip

    assert retained(history, daily=0, weekly=2, monthly=0, yearly=0) == {"wednesday", "sunday"}


def test_of_two_backups_at_the_same_instant_the_first_given_is_kept():
    moment = datetime(2024, 5, 6, 2, tzinfo=UTC)

    assert retained([("a", moment), ("b", moment)], daily=7, weekly=4, monthly=12, yearly=None) == {"a"}
    assert retained([("b", moment), ("a", moment)], daily=7, weekly=4, monthly=12, yearly=None) == {"b"}


def test_no_backups_keep_nothing():
    assert retained([], daily=7, weekly=4, monthly=12, yearly=None) == set()
