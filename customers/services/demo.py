"""Seeded, realistic demo data for a virtual-goods wholesale platform.

`demo_seed` fills an empty TierHub with staff logins, a category tree, customers of three
kinds and everything grading reads (orders, campaign invitations, referrals, complaints,
reviews, service tickets), shaped so a grading run meets every RFM label and lifecycle
stage of docs/grading.md. The population is planned in numpy arrays first (one vectorised draw
per attribute, so the same ``(customers, seed, today)`` always gives the same data) and then
written with ``bulk_create`` in chunks: the number of queries grows with the number of
insert batches, never with the number of customers.

Times are planned as whole days before ``today`` plus a time of day in the project time
zone, then stored as aware UTC datetimes; every timestamp is strictly before local midnight
of ``today``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.exceptions import ConflictError, DomainError
from common.roles import ACCOUNT_MANAGERS, OPERATIONS
from customers.models import (
    Campaign,
    CampaignInvitation,
    Category,
    Complaint,
    Customer,
    Order,
    ProductReview,
    Referral,
    ServiceTicket,
)

Progress = Callable[[str, int], None]

CUSTOMER_PREFIX = "DEMO"
ORDER_PREFIX = "DEMO-O"
DEMO_PASSWORD = "tierhub-demo"  # the published demo login, never a real secret
OPS_USERNAME = "ops"
MANAGER_USERNAMES = ("manager", "manager2", "manager3", "manager4", "manager5")
#: Share of managed customers per manager: `manager` (the printed login) gets the most.
MANAGER_SHARES = (0.32, 0.17, 0.17, 0.17, 0.17)

# Rows per INSERT. 2,000 keeps PostgreSQL statements well under its parameter limit; on
# SQLite Django lowers it to fit 999 parameters. Instances are built CHUNK at a time so
# 100k customers (about 700k orders) never sit in memory as model objects all at once.
BATCH_SIZE = 2_000
CHUNK = 20_000

MAX_HISTORY_DAYS = 4 * 365  # registered 0-4 years ago
CAMPAIGNS = (
    ("demo-game-card-week", "Game-card bonus week"),
    ("demo-top-up-rebate", "Top-up rebate month"),
    ("demo-licence-bundle", "Software licence bundles"),
    ("demo-gift-card-drive", "Gift-card volume drive"),
    ("demo-streaming-promo", "Streaming plan promotion"),
    ("demo-agent-rally", "Channel agent rally"),
)

# (code, name, parent code or None). Children are the categories orders are booked on.
CATEGORY_TREE: tuple[tuple[str, str, str | None], ...] = (
    ("game-cards", "Game cards", None),
    ("phone-top-ups", "Phone top-ups", None),
    ("gift-cards", "Gift cards", None),
    ("software-licences", "Software licences", None),
    ("streaming", "Streaming subscriptions", None),
    ("steam-wallet", "Steam wallet codes", "game-cards"),
    ("console-cards", "PlayStation & Xbox cards", "game-cards"),
    ("mobile-game-credits", "Mobile game credits", "game-cards"),
    ("domestic-top-ups", "Domestic mobile top-ups", "phone-top-ups"),
    ("international-top-ups", "International top-ups", "phone-top-ups"),
    ("app-store-cards", "App Store gift cards", "gift-cards"),
    ("google-play-cards", "Google Play gift cards", "gift-cards"),
    ("office-suites", "Office & productivity suites", "software-licences"),
    ("security-software", "Antivirus & security", "software-licences"),
    ("video-streaming", "Video streaming plans", "streaming"),
    ("music-streaming", "Music streaming plans", "streaming"),
)
LEAVES = tuple(code for code, _name, parent in CATEGORY_TREE if parent is not None)
LEAF_POPULARITY = np.array([14, 8, 12, 13, 6, 9, 7, 5, 4, 8, 5], dtype=float)

INDUSTRIES = ("retail", "gaming", "telecom", "education", "travel", "finance", "media", "software")
INDUSTRY_SHARES = np.array([0.22, 0.20, 0.14, 0.10, 0.08, 0.08, 0.09, 0.09])
#: Which top-level category an industry leans towards when it picks its main product line.
INDUSTRY_AFFINITY = {
    "gaming": "game-cards",
    "telecom": "phone-top-ups",
    "retail": "gift-cards",
    "software": "software-licences",
    "education": "software-licences",
    "media": "streaming",
    "travel": "phone-top-ups",
}

KINDS = (Customer.Kind.CHANNEL_AGENT, Customer.Kind.RESELLER, Customer.Kind.END_CUSTOMER)
AGENT, RESELLER, END = range(3)
KIND_SHARES = np.array([0.05, 0.20, 0.75])

# Lifecycle the customer is planned into (docs/grading.md, "Lifecycle stage").
PROSPECT, NEW, ACTIVE, DORMANT, CHURNED = range(5)
SEGMENT_SHARES = np.array(
    [
        # prospect, new, active, dormant, churned
        [0.00, 0.00, 0.80, 0.10, 0.10],  # channel agents reorder monthly: rarely gone
        [0.03, 0.08, 0.56, 0.16, 0.17],  # resellers
        [0.06, 0.09, 0.54, 0.155, 0.155],  # end customers
    ]
)

CITIES = (
    "Shanghai", "Shenzhen", "Hangzhou", "Guangzhou", "Beijing", "Chengdu", "Wuhan", "Nanjing",
    "Xiamen", "Suzhou", "Chongqing", "Hong Kong", "Singapore", "Kuala Lumpur", "Bangkok",
)  # fmt: skip
BRANDS = (
    "Starlink", "Bluewave", "Goldleaf", "Jade Gate", "Red Lantern", "Silverline", "Northstar",
    "Peakview", "Cloudnine", "Brightpath", "Sunrise", "Dragonfly", "Harbour", "Lotus", "Summit",
    "Orchid", "Pinecrest", "Riverstone", "Skybridge", "Evergreen", "Crescent", "Phoenix",
)  # fmt: skip
TRADES = (
    ("Digital Distribution", "Card Wholesale", "Channel Partners", "Top-up Agency"),
    ("Digital Trading", "Game Store", "Gift Card Shop", "E-commerce", "Software Mart"),
    ("Technology", "Studio", "Network", "Media", "Education", "Travel"),
)
SUFFIXES = ("Co., Ltd.", "Ltd.", "Limited", "Group", "Pte. Ltd.")
SURNAMES = (
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
    "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao", "Tan", "Lim", "Ng", "Wong",
)  # fmt: skip
GIVEN_NAMES = (
    "Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Jun", "Hui", "Xin", "Tao", "Ming", "Ling",
    "Hao", "Yu", "Jie", "Qiang", "Na", "Ping", "Chao", "Mei",
)  # fmt: skip
STREETS = ("Nanjing Road", "Century Avenue", "Tianfu Street", "Zhongshan Road", "Binjiang Road")

COMPLAINTS = (
    "Codes delivered late",
    "A card code was already redeemed",
    "Top-up credited to the wrong number",
    "Invoice amount does not match the order",
    "Refund took too long",
    "Licence key rejected on activation",
)
REVIEWS = ("Fast delivery.", "Codes worked first time.", "Good price.", "", "Support helped.")
TICKET_SUBJECTS = (
    "Question about an invoice",
    "Bulk order quote",
    "Card code not working",
    "Change of billing address",
    "API access for automatic top-ups",
    "Credit limit increase",
    "Missing order confirmation",
)


@dataclass(frozen=True)
class DemoSummary:
    """What one `demo_seed` call created (rows that already existed are not counted)."""

    staff_users: int
    categories: int
    campaigns: int
    customers: int
    managed_customers: int
    orders: int
    invitations: int
    referrals: int
    complaints: int
    reviews: int
    tickets: int


class DemoDataExists(ConflictError):
    """Demo customers are already there; seeding again would duplicate or half-mix them."""

    code = "demo_data_exists"


@dataclass
class _Clock:
    """Turn (days before `today`, seconds into that local day) into epoch seconds."""

    day_starts: np.ndarray  # epoch seconds of local midnight, indexed by days before today

    @classmethod
    def for_today(cls, today: dt.date, tz: dt.tzinfo) -> _Clock:
        # One zone lookup per calendar day, so days with a DST change still start at their
        # own local midnight; 1,500 days is negligible next to the data.
        starts = [
            int(dt.datetime.combine(today - dt.timedelta(days=d), dt.time.min, tz).timestamp())
            for d in range(MAX_HISTORY_DAYS + 2)
        ]
        return cls(np.array(starts, dtype=np.int64))

    @property
    def end(self) -> int:
        """Local midnight starting `today`: every demo timestamp is before it."""
        return int(self.day_starts[0])

    def at(self, days_ago: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        return self.day_starts[days_ago] + seconds


def _datetimes(epoch: np.ndarray) -> list[dt.datetime | None]:
    """Aware UTC datetimes from epoch seconds; -1 stands for "no timestamp"."""
    return [None if s < 0 else dt.datetime.fromtimestamp(s, tz=dt.UTC) for s in epoch.tolist()]


def _money(cents: np.ndarray) -> list[Decimal]:
    return [Decimal(c).scaleb(-2) for c in cents.tolist()]


def _take(values: Sequence[Any], index: np.ndarray) -> list[Any]:
    return np.array(values, dtype=object)[index].tolist()


def _build[M: models.Model](model: type[M], size: int, columns: dict[str, list[Any]]) -> list[M]:
    """Instantiate `size` unsaved rows from columns keyed by attribute name.

    Positional arguments in field order take Django's fast path in `Model.__init__`, about
    twice as fast as keywords, which matters at hundreds of thousands of rows. Columns not
    given get the field's default (evaluated once); the primary key and `auto_now` fields
    are left empty for the database and `pre_save` to fill.
    """
    fields = model._meta.concrete_fields
    unknown = set(columns) - {field.attname for field in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
    values: list[Iterable[Any]] = []
    for field in fields:
        if field.attname in columns:
            values.append(columns[field.attname])
        elif (
            field.primary_key
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        ):
            values.append(itertools.repeat(None, size))
        else:
            values.append(itertools.repeat(field.get_default(), size))
    return [model(*row) for row in zip(*values, strict=True)]


def _insert[M: models.Model](
    model: type[M],
    total: int,
    columns: Callable[[slice], dict[str, list[Any]]],
    *,
    step: str,
    progress: Progress,
) -> np.ndarray:
    """Bulk-create `total` rows, built CHUNK at a time; return their primary keys in order.

    `columns(window)` returns the column values of rows `window`. PostgreSQL and SQLite
    >= 3.35 hand the keys back from the INSERT itself, so no query reads them again.
    """
    pks = np.zeros(total, dtype=np.int64)
    progress(step, 0)
    for start in range(0, total, CHUNK):
        window = slice(start, min(start + CHUNK, total))
        size = window.stop - window.start
        objs = model._default_manager.bulk_create(
            _build(model, size, columns(window)), batch_size=BATCH_SIZE
        )
        pks[window] = [obj.pk for obj in objs]
        progress(step, size)
    return pks


def _pick(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """Draw one index per row of `shares` (rows of probabilities), vectorised."""
    cumulative = np.cumsum(shares, axis=1)
    cumulative /= cumulative[:, -1:]
    return (rng.random((shares.shape[0], 1)) > cumulative).sum(axis=1)


@dataclass
class _Population:
    """The planned customers, one array element per customer."""

    kind: np.ndarray
    segment: np.ndarray
    industry: np.ndarray
    manager: np.ndarray  # index into the managers, -1 for none
    registered: np.ndarray  # epoch seconds
    order_count: np.ndarray
    late_rate: np.ndarray
    join_rate: np.ndarray

    @property
    def size(self) -> int:
        return int(self.kind.size)


@dataclass
class _Orders:
    """The planned orders in chronological order (order numbers follow it)."""

    owner: np.ndarray  # customer index
    placed: np.ndarray  # epoch seconds
    category: np.ndarray  # index into LEAVES
    amount: np.ndarray  # cents
    refunded: np.ndarray  # cents
    profit: np.ndarray  # cents
    status: np.ndarray  # index into ORDER_STATUSES
    on_time: np.ndarray  # -1 unknown, 0 late, 1 on time


ORDER_STATUSES = (
    Order.Status.PAID,
    Order.Status.COMPLETED,
    Order.Status.REFUNDED,
    Order.Status.CANCELLED,
)
PAID, COMPLETED, REFUNDED, CANCELLED = range(4)


def _plan_population(
    rng: np.random.Generator, n: int, clock: _Clock
) -> tuple[_Population, _Orders]:
    """Plan customers and their orders: who they are, when and how much they buy."""
    kind = rng.choice(3, size=n, p=KIND_SHARES)
    segment = _pick(rng, SEGMENT_SHARES[kind])
    industry = rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_SHARES)

    # How many orders: agents reorder monthly for 1-3 years; most others buy a handful of
    # times, a few dozens of times (lognormal), new customers only 1-4 times so far.
    count = np.where(
        kind == RESELLER,
        np.ceil(rng.lognormal(1.6, 0.9, n)),
        np.ceil(rng.lognormal(0.75, 0.85, n)),
    ).clip(1, 80)
    count = np.where(kind == AGENT, rng.integers(12, 41, n), count)
    count = np.where(segment == NEW, 1 + rng.binomial(3, 0.3, n), count)
    # Active customers have bought at least twice, except some occasional end customers.
    occasional = (kind == END) & (rng.random(n) < 0.15)
    count = np.where((segment == ACTIVE) & ~occasional, np.maximum(count, 2), count)
    one_off = (kind == END) & (segment != NEW) & (rng.random(n) < 0.03)
    count = np.where(one_off, 1, count)
    count = np.where(segment == PROSPECT, 0, count).astype(np.int64)

    # Days since the last order, by lifecycle.
    last = np.select(
        [segment == NEW, segment == DORMANT, segment == CHURNED, kind == AGENT],
        [
            1 + rng.exponential(15, n).astype(np.int64).clip(0, 58),
            rng.integers(181, 366, n),
            rng.integers(366, 1100, n),
            rng.integers(1, 35, n),
        ],
        default=1 + rng.exponential(40, n).astype(np.int64).clip(0, 179),
    )
    # Mean days between orders: about monthly for agents, longer and more varied for others.
    mean_gap = np.select(
        [kind == AGENT, kind == RESELLER],
        [rng.normal(30, 4, n).clip(20, 40), rng.lognormal(np.log(35), 0.5, n)],
        default=rng.lognormal(np.log(50), 0.6, n),
    )
    # Per-customer value: Pareto-like through a lognormal mean, a few large accounts and
    # some one-off big buyers; growing and declining accounts trend over the last year.
    value = rng.lognormal(np.log(np.array([1500.0, 600.0, 150.0])[kind]), 0.7)
    value *= np.where(rng.random(n) < 0.02, 5.0, 1.0)
    value *= np.where(one_off, 20.0, 1.0)
    trend = np.where(segment == ACTIVE, rng.choice(3, size=n, p=[0.62, 0.10, 0.28]), 0)

    total = int(count.sum())
    owner = np.repeat(np.arange(n), count)
    first_of = np.cumsum(count) - count  # index of each customer's most recent order
    nth = np.arange(total) - first_of[owner]  # 0 = most recent, counting back in time
    noise = np.where(
        kind[owner] == AGENT, rng.normal(1, 0.2, total).clip(0.5, 1.6), rng.gamma(2, 0.5, total)
    )
    gap = np.where(nth == 0, 0.0, mean_gap[owner] * noise)
    back = np.cumsum(gap)
    back -= back[first_of[owner]]  # days before the customer's last order
    span = np.zeros(n)
    has_orders = count > 0
    span[has_orders] = back[(first_of + count - 1)[has_orders]]
    # New customers made their first order within 90 days; everyone else has bought for
    # longer (a single order then lies 90+ days back); nobody before 4 years ago.
    alone = (segment == ACTIVE) & (count == 1) & (last < 90)
    last = np.where(alone, rng.integers(90, 181, n), last)
    room = np.where(segment == NEW, 89, MAX_HISTORY_DAYS - 20) - last
    least = np.where(segment == NEW, 0, rng.integers(190, 380, n)) - last
    safe_span = np.maximum(span, 1e-9)
    stretch = np.select([span > room, (span > 0) & (span < least)], [room, least]) / safe_span
    stretch = np.where((span > room) | ((span > 0) & (span < least)), stretch, 1.0)
    days = (last[owner] + np.floor(back * stretch[owner])).astype(np.int64)

    first_day = np.zeros(n, dtype=np.int64)
    first_day[has_orders] = days[(first_of + count - 1)[has_orders]]
    registered_day = np.where(
        has_orders,
        np.minimum(first_day + rng.integers(1, 121, n), MAX_HISTORY_DAYS),
        rng.integers(1, 731, n),
    )
    registered = clock.at(registered_day, rng.integers(7 * 3600, 22 * 3600, n))

    placed = clock.at(days, rng.integers(8 * 3600, 23 * 3600, total))
    year_ago = np.minimum(days, 365) / 365  # 0 = today, 1 = a year or more ago
    trend_factor = np.select(
        [trend[owner] == 1, trend[owner] == 2],
        [0.5 + 1.5 * (1 - year_ago), 0.5 + year_ago],
        default=1.0,
    )
    amount_noise = rng.lognormal(-0.125, 0.5, total)
    amount = np.rint(value[owner] * trend_factor * amount_noise * 100).clip(100, 10**11)
    amount = amount.astype(np.int64)

    # ~1% cancelled, ~2% fully refunded; the most recent order always counts, so the
    # planned lifecycle is what grading sees.
    roll = rng.random(total)
    status = np.select([roll < 0.01, roll < 0.03], [CANCELLED, REFUNDED], default=PAID)
    status = np.where(nth == 0, PAID, status)
    counted = status == PAID
    status = np.where(counted & (days > 7) & (rng.random(total) < 0.65), COMPLETED, status)
    partial = counted & (rng.random(total) < 0.03)
    refunded = np.select(
        [status == REFUNDED, partial],
        [amount, np.floor(amount * rng.uniform(0.05, 0.6, total)).astype(np.int64)],
        default=0,
    )
    profit = np.floor(amount * rng.uniform(0.05, 0.25, total)).astype(np.int64)

    late_rate = rng.beta(1.2, 10, n)
    on_time = np.where(
        rng.random(total) < 0.12, -1, (rng.random(total) >= late_rate[owner]).astype(np.int64)
    )

    # Each customer has a main product line (leaning to its industry) and a taste for others.
    weights = np.tile(LEAF_POPULARITY, (len(INDUSTRIES), 1))
    parents = {code: parent for code, _name, parent in CATEGORY_TREE}
    for i, name in enumerate(INDUSTRIES):
        for j, leaf in enumerate(LEAVES):
            if parents[leaf] == INDUSTRY_AFFINITY.get(name):
                weights[i, j] *= 6
    main_line = _pick(rng, weights[industry])
    breadth = rng.beta(1, 3, n)
    explore = rng.random(total) < breadth[owner]
    category = np.where(explore, rng.choice(len(LEAVES), size=total), main_line[owner])

    manager_share = np.array([0.9, 0.85, 0.30])[kind]
    managed = rng.random(n) < manager_share
    manager = np.where(managed, rng.choice(len(MANAGER_USERNAMES), size=n, p=MANAGER_SHARES), -1)

    join_rate = (rng.beta(2, 3, n) + np.where(kind == AGENT, 0.2, 0.0)).clip(0, 0.95)

    population = _Population(
        kind=kind,
        segment=segment,
        industry=industry,
        manager=manager,
        registered=registered,
        order_count=count,
        late_rate=late_rate,
        join_rate=join_rate,
    )
    # Order numbers run in time order, like a real shop's.
    order = np.argsort(placed, kind="stable")
    orders = _Orders(
        owner=owner[order],
        placed=placed[order],
        category=category[order],
        amount=amount[order],
        refunded=refunded[order],
        profit=profit[order],
        status=status[order],
        on_time=on_time[order],
    )
    return population, orders


def _names(rng: np.random.Generator, kind: np.ndarray) -> tuple[list[str], list[str], list[str]]:
    """Return company or person names, contact names and addresses for each customer."""
    n = kind.size
    city = _take(CITIES, rng.integers(0, len(CITIES), n))
    brand = _take(BRANDS, rng.integers(0, len(BRANDS), n))
    trade = rng.integers(0, 1000, n).tolist()
    suffix = _take(SUFFIXES, rng.integers(0, len(SUFFIXES), n))
    surname = _take(SURNAMES, rng.integers(0, len(SURNAMES), n))
    given = _take(GIVEN_NAMES, rng.integers(0, len(GIVEN_NAMES), n))
    person = ((kind == END) & (rng.random(n) < 0.5)).tolist()
    street_no = rng.integers(1, 999, n).tolist()
    street = _take(STREETS, rng.integers(0, len(STREETS), n))
    names, contacts, addresses = [], [], []
    for i, customer_kind in enumerate(kind.tolist()):
        contact = f"{surname[i]} {given[i]}"
        if person[i]:
            names.append(contact)  # a private buyer is their own contact
        else:
            trades = TRADES[customer_kind]
            names.append(f"{city[i]} {brand[i]} {trades[trade[i] % len(trades)]} {suffix[i]}")
        contacts.append(contact)
        addresses.append(f"{street_no[i]} {street[i]}, {city[i]}")
    return names, contacts, addresses


def _ensure_staff(progress: Progress) -> tuple[int, list[Any]]:
    """Get or create the demo logins; return how many were new and the managers in order."""
    progress("staff", 0)
    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashing is slow by design: once, reused
    operations, _created = Group.objects.get_or_create(name=OPERATIONS)
    managers_group, _created = Group.objects.get_or_create(name=ACCOUNT_MANAGERS)
    created = 0
    managers = []
    for username, group in [
        (OPS_USERNAME, operations),
        *((name, managers_group) for name in MANAGER_USERNAMES),
    ]:
        user, is_new = user_model.objects.get_or_create(
            username=username,
            defaults={
                "is_staff": True,
                "password": password,
                "email": f"{username}@example.com",
            },
        )
        user.groups.add(group)
        created += is_new
        if group is managers_group:
            managers.append(user)
        progress("staff", 1)
    return created, managers


def _ensure_categories(progress: Progress) -> tuple[int, dict[str, Category]]:
    """Get or create the category tree in two inserts (parents, then children)."""
    progress("categories", 0)
    existing = {c.code: c for c in Category.objects.filter(code__in=[c for c, *_ in CATEGORY_TREE])}
    created = 0
    for level_is_parent in (True, False):
        missing = [
            Category(code=code, name=name, parent=existing.get(parent) if parent else None)
            for code, name, parent in CATEGORY_TREE
            if (parent is None) == level_is_parent and code not in existing
        ]
        Category.objects.bulk_create(missing, batch_size=BATCH_SIZE)
        existing.update({c.code: c for c in missing})
        created += len(missing)
    progress("categories", len(CATEGORY_TREE))
    return created, existing


def _ensure_campaigns(
    rng: np.random.Generator, today: dt.date, progress: Progress
) -> tuple[int, list[Campaign]]:
    """Get or create ~6 campaigns spread over the last year, all ended before `today`."""
    progress("campaigns", 0)
    # Drawn for every campaign, existing or not, so the rest of the data stays the same.
    shift = rng.integers(0, 10, len(CAMPAIGNS))
    length = rng.integers(14, 31, len(CAMPAIGNS))
    existing = {c.code: c for c in Campaign.objects.filter(code__in=[c for c, _ in CAMPAIGNS])}
    missing = []
    for i, (code, name) in enumerate(CAMPAIGNS):
        if code in existing:
            continue
        starts = today - dt.timedelta(days=360 - 58 * i - int(shift[i]))
        ends = starts + dt.timedelta(days=int(length[i]))
        missing.append(Campaign(code=code, name=name, starts_on=starts, ends_on=ends))
    Campaign.objects.bulk_create(missing, batch_size=BATCH_SIZE)
    existing.update({c.code: c for c in missing})
    progress("campaigns", len(CAMPAIGNS))
    return len(missing), [existing[code] for code, _name in CAMPAIGNS]


def _plan_invitations(
    rng: np.random.Generator,
    population: _Population,
    campaigns: Sequence[Campaign],
    today: dt.date,
    clock: _Clock,
) -> dict[str, np.ndarray]:
    """Invite customers registered by then to each finished campaign (agents most often)
    up to a week before it starts; ~40% join before it ends. `joined` is -1 when not."""
    invite_rate = np.array([0.9, 0.6, 0.3])[population.kind]
    n = population.size
    parts = [
        {key: np.zeros(0, dtype=np.int64) for key in ("campaign", "customer", "invited", "joined")}
    ]
    for c, campaign in enumerate(campaigns):
        start_day = (today - campaign.starts_on).days
        end_day = (today - campaign.ends_on).days
        if end_day < 1 or start_day + 7 > MAX_HISTORY_DAYS:
            continue  # a reused campaign that is not over yet, or older than the history
        invited = clock.at(start_day + rng.integers(0, 8, n), rng.integers(9 * 3600, 18 * 3600, n))
        chosen = np.flatnonzero((rng.random(n) < invite_rate) & (population.registered < invited))
        # Joining happens between the invitation and the end of the campaign's last day.
        closes = clock.day_starts[end_day - 1]
        join_at = invited + 600 + (rng.random(n) * np.maximum(closes - invited - 600, 0))
        joined = np.where(rng.random(n) < population.join_rate, join_at.astype(np.int64), -1)
        parts.append(
            {
                "campaign": np.full(chosen.size, c),
                "customer": chosen,
                "invited": invited[chosen],
                "joined": joined[chosen],
            }
        )
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _clamp_after(start: np.ndarray, candidate: np.ndarray, end: int) -> np.ndarray:
    """Keep `candidate` before `end`; otherwise fall halfway between `start` and `end`."""
    return np.where(candidate < end, candidate, start + (end - start) // 2)


@transaction.atomic
def demo_seed(
    *,
    customers: int,
    seed: int = 42,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create demo logins, categories, campaigns and `customers` demo customers with history.

    Deterministic for a given ``(customers, seed, today)``; `today` defaults to the local
    date in the project time zone and every generated timestamp falls before it. Staff
    users, categories and campaigns are reused when they exist (existing passwords are left
    alone); the customers are not: if any ``DEMO…`` customer exists this raises
    `DemoDataExists` and writes nothing. `progress(step, n)` is called with n = 0 when a
    step starts (so the previous one is finished), then with the rows each chunk added.

    One transaction; the number of queries grows with the number of insert batches, not
    with the number of customers.
    """
    if customers < 1:
        raise DomainError(_("The number of demo customers must be at least 1."))
    if seed < 0:
        raise DomainError(_("The random seed must not be negative."))
    report: Progress = progress or (lambda _step, _n: None)
    tz = timezone.get_default_timezone()
    today = today or timezone.localdate(timezone=tz)
    if Customer.objects.filter(code__startswith=CUSTOMER_PREFIX).exists():
        raise DemoDataExists(
            _("Demo customers (codes starting with %(prefix)s) already exist.")
            % {"prefix": CUSTOMER_PREFIX}
        )

    report("plan", 0)
    rng = np.random.Generator(np.random.PCG64(seed))
    clock = _Clock.for_today(today, tz)
    population, orders = _plan_population(rng, customers, clock)
    names, contacts, addresses = _names(rng, population.kind)
    phones = rng.integers(130_0000_0000, 199_9999_9999, customers)
    report("plan", customers)

    staff_created, managers = _ensure_staff(report)
    categories_created, categories = _ensure_categories(report)
    campaigns_created, campaigns = _ensure_campaigns(rng, today, report)

    manager_pk = np.array([user.pk for user in managers] + [0], dtype=np.int64)  # [-1] = none
    kinds = [kind.value for kind in KINDS]

    def customer_columns(rows: slice) -> dict[str, list[Any]]:
        numbers = range(rows.start + 1, rows.stop + 1)
        manager = population.manager[rows]
        return {
            "code": [f"{CUSTOMER_PREFIX}{i:06d}" for i in numbers],
            "name": names[rows],
            "kind": _take(kinds, population.kind[rows]),
            "industry": _take(INDUSTRIES, population.industry[rows]),
            "account_manager_id": [
                pk if m >= 0 else None
                for pk, m in zip(manager_pk[manager].tolist(), manager.tolist(), strict=True)
            ],
            "registered_at": _datetimes(population.registered[rows]),
            "email": [f"{CUSTOMER_PREFIX.lower()}{i:06d}@example.com" for i in numbers],
            "phone": [f"+86 {p}" for p in phones[rows].tolist()],
            "contact_name": contacts[rows],
            "address": addresses[rows],
        }

    customer_pk = _insert(Customer, customers, customer_columns, step="customers", progress=report)

    leaf_pk = np.array([categories[code].pk for code in LEAVES], dtype=np.int64)
    statuses = [status.value for status in ORDER_STATUSES]

    def order_columns(rows: slice) -> dict[str, list[Any]]:
        return {
            "order_no": [f"{ORDER_PREFIX}{i:08d}" for i in range(rows.start + 1, rows.stop + 1)],
            "customer_id": customer_pk[orders.owner[rows]].tolist(),
            "placed_at": _datetimes(orders.placed[rows]),
            "amount": _money(orders.amount[rows]),
            "refunded_amount": _money(orders.refunded[rows]),
            "profit": _money(orders.profit[rows]),
            "category_id": leaf_pk[orders.category[rows]].tolist(),
            "status": _take(statuses, orders.status[rows]),
            "on_time": _take((None, False, True), orders.on_time[rows] + 1),
        }

    order_count = int(orders.owner.size)
    order_pk = _insert(Order, order_count, order_columns, step="orders", progress=report)

    invitations = _plan_invitations(rng, population, campaigns, today, clock)
    campaign_pk = np.array([campaign.pk for campaign in campaigns], dtype=np.int64)
    invitation_count = _insert(
        CampaignInvitation,
        invitations["customer"].size,
        lambda rows: {
            "campaign_id": campaign_pk[invitations["campaign"][rows]].tolist(),
            "customer_id": customer_pk[invitations["customer"][rows]].tolist(),
            "invited_at": _datetimes(invitations["invited"][rows]),
            "joined_at": _datetimes(invitations["joined"][rows]),
        },
        step="invitations",
        progress=report,
    ).size

    referrals = _plan_referrals(rng, population, clock)
    referral_count = _insert(
        Referral,
        referrals["referrer"].size,
        lambda rows: {
            "referrer_id": customer_pk[referrals["referrer"][rows]].tolist(),
            "referred_id": [
                int(customer_pk[i]) if i >= 0 else None
                for i in referrals["referred"][rows].tolist()
            ],
            "referred_name": referrals["referred_name"][rows].tolist(),
            "created_at": _datetimes(referrals["created"][rows]),
        },
        step="referrals",
        progress=report,
    ).size

    complaints = _plan_complaints(rng, population, orders, clock)
    severities = [severity.value for severity in Complaint.Severity]
    complaint_count = _insert(
        Complaint,
        complaints["customer"].size,
        lambda rows: {
            "customer_id": customer_pk[complaints["customer"][rows]].tolist(),
            "order_id": order_pk[complaints["order"][rows]].tolist(),
            "severity": _take(severities, complaints["severity"][rows]),
            "description": _take(COMPLAINTS, complaints["text"][rows]),
            "created_at": _datetimes(complaints["filed"][rows]),
            "resolved_at": _datetimes(complaints["resolved"][rows]),
        },
        step="complaints",
        progress=report,
    ).size

    reviews = _plan_reviews(rng, population, orders, clock)
    review_count = _insert(
        ProductReview,
        reviews["customer"].size,
        lambda rows: {
            "customer_id": customer_pk[reviews["customer"][rows]].tolist(),
            "order_id": order_pk[reviews["order"][rows]].tolist(),
            "rating": reviews["rating"][rows].tolist(),
            "text": _take(REVIEWS, reviews["text"][rows]),
            "created_at": _datetimes(reviews["created"][rows]),
        },
        step="reviews",
        progress=report,
    ).size

    tickets = _plan_tickets(rng, population, clock)
    priorities = [ServiceTicket.Priority.NORMAL.value, ServiceTicket.Priority.URGENT.value]
    ticket_count = _insert(
        ServiceTicket,
        tickets["customer"].size,
        lambda rows: {
            "customer_id": customer_pk[tickets["customer"][rows]].tolist(),
            "subject": _take(TICKET_SUBJECTS, tickets["subject"][rows]),
            "priority": _take(priorities, tickets["urgent"][rows]),
            "opened_at": _datetimes(tickets["opened"][rows]),
            "first_response_at": _datetimes(tickets["responded"][rows]),
            "closed_at": _datetimes(tickets["closed"][rows]),
        },
        step="tickets",
        progress=report,
    ).size

    return DemoSummary(
        staff_users=staff_created,
        categories=categories_created,
        campaigns=campaigns_created,
        customers=customers,
        managed_customers=int((population.manager >= 0).sum()),
        orders=order_count,
        invitations=invitation_count,
        referrals=referral_count,
        complaints=complaint_count,
        reviews=review_count,
        tickets=ticket_count,
    )


def _plan_referrals(
    rng: np.random.Generator, population: _Population, clock: _Clock
) -> dict[str, np.ndarray]:
    """Referrals, mostly by agents and resellers: some brought in a demo customer (a few
    days before that customer registered), others only name someone not signed up yet.

    `referred` is a customer index or -1 (then `referred_name` is set).
    """
    n = population.size
    weight = np.array([8.0, 3.0, 0.3])[population.kind]
    weight /= weight.sum()
    referred = np.flatnonzero(rng.random(n) < 0.04)  # distinct: one referrer each at most
    referrer = rng.choice(n, size=referred.size, p=weight)
    created = population.registered[referred] - rng.integers(3600, 10 * 86400, referred.size)
    keep = (referrer != referred) & (population.registered[referrer] < created)

    named_by = rng.choice(n, size=n // 25, p=weight)
    since = np.maximum(population.registered[named_by], clock.end - 730 * 86400)
    named_at = since + (rng.random(named_by.size) * (clock.end - since)).astype(np.int64)
    surnames = _take(SURNAMES, rng.integers(0, len(SURNAMES), named_by.size))
    given = _take(GIVEN_NAMES, rng.integers(0, len(GIVEN_NAMES), named_by.size))
    name = np.array([f"{s} {g}" for s, g in zip(surnames, given, strict=True)], dtype=object)
    return {
        "referrer": np.concatenate([referrer[keep], named_by]),
        "referred": np.concatenate([referred[keep], np.full(named_by.size, -1)]),
        "referred_name": np.concatenate([np.full(int(keep.sum()), "", dtype=object), name]),
        "created": np.concatenate([created[keep], named_at]),
    }


def _pick_orders(
    rng: np.random.Generator, population: _Population, orders: _Orders, customers: np.ndarray
) -> np.ndarray:
    """One random order of each given customer (who must have orders), as order indices."""
    by_owner = np.argsort(orders.owner, kind="stable")
    first = np.cumsum(population.order_count) - population.order_count
    offset = (rng.random(customers.size) * population.order_count[customers]).astype(np.int64)
    return by_owner[first[customers] + offset]


def _plan_complaints(
    rng: np.random.Generator, population: _Population, orders: _Orders, clock: _Clock
) -> dict[str, np.ndarray]:
    """Complaints from ~8% of buyers (more often those with late orders), each about one of
    their orders and filed after it; three in four resolved."""
    n = population.size
    buyers = population.order_count > 0
    customers = np.flatnonzero(buyers & (rng.random(n) < 0.04 + 0.4 * population.late_rate))
    customers = np.repeat(customers, 1 + rng.binomial(1, 0.25, customers.size))
    m = customers.size
    order = _pick_orders(rng, population, orders, customers)
    placed = orders.placed[order]
    filed = _clamp_after(placed, placed + rng.integers(2 * 3600, 10 * 86400, m), clock.end)
    resolved = filed + rng.integers(3600, 7 * 86400, m)
    return {
        "customer": customers,
        "order": order,
        "severity": rng.choice(3, size=m, p=[0.55, 0.33, 0.12]),
        "text": rng.integers(0, len(COMPLAINTS), m),
        "filed": filed,
        "resolved": np.where((rng.random(m) < 0.75) & (resolved < clock.end), resolved, -1),
    }


def _plan_reviews(
    rng: np.random.Generator, population: _Population, orders: _Orders, clock: _Clock
) -> dict[str, np.ndarray]:
    """Product reviews by ~15% of buyers, one to three each, written after the order."""
    n = population.size
    customers = np.flatnonzero((population.order_count > 0) & (rng.random(n) < 0.15))
    customers = np.repeat(customers, 1 + rng.binomial(2, 0.3, customers.size))
    m = customers.size
    order = _pick_orders(rng, population, orders, customers)
    placed = orders.placed[order]
    return {
        "customer": customers,
        "order": order,
        "rating": 1 + rng.choice(5, size=m, p=[0.04, 0.06, 0.15, 0.35, 0.40]),
        "text": rng.integers(0, len(REVIEWS), m),
        "created": _clamp_after(placed, placed + rng.integers(86400, 20 * 86400, m), clock.end),
    }


def _plan_tickets(
    rng: np.random.Generator, population: _Population, clock: _Clock
) -> dict[str, np.ndarray]:
    """Service tickets from ~20% of customers over the last 18 months: most answered 5
    minutes to 3 days after opening, some still waiting, most answered ones closed."""
    n = population.size
    customers = np.flatnonzero(rng.random(n) < 0.20)
    customers = np.repeat(customers, 1 + rng.binomial(2, 0.3, customers.size))
    m = customers.size
    since = np.maximum(population.registered[customers], clock.end - 540 * 86400)
    opened = since + (rng.random(m) * (clock.end - 60 - since)).astype(np.int64)
    delay = rng.lognormal(np.log(2 * 3600), 1.5, m).clip(300, 3 * 86400).astype(np.int64)
    answered = (rng.random(m) < 0.88) & (opened + delay < clock.end)
    responded = np.where(answered, opened + delay, -1)
    closed = responded + rng.integers(600, 5 * 86400, m)
    return {
        "customer": customers,
        "subject": rng.integers(0, len(TICKET_SUBJECTS), m),
        "urgent": (rng.random(m) < 0.15).astype(np.int64),
        "opened": opened,
        "responded": responded,
        "closed": np.where(answered & (rng.random(m) < 0.7) & (closed < clock.end), closed, -1),
    }
