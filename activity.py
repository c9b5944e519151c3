"""Realistic activity: a customer's history of transactions, and what follows from it.

A customer is a persona (the synthetic profiles), an income, bank accounts and holdings. Their
history, from the first day of the month `months` back through the sandbox's today, is what
such a customer's bank would show: salary on fixed days (monthly, or every other Friday) from
the employer, rent or mortgage, utilities, subscriptions of fixed amounts on fixed days, card
spending across groceries, dining, transport, shopping, travel and more at real-looking
merchants with their ISO 18245 merchant category codes (MCC), occasional refunds, more spending
in December, transfers between the customer's own accounts, buys of each holding and the
dividends and coupons they pay; a corporate customer has invoices paid in, payroll, taxes and
suppliers out.

Everything else is derived from the transactions, so it adds up:
- every account opens with an "Opening balance" deposit on the history's first day, and its
  balance is the sum of its transactions: a statement from its first day opens at zero and
  closes at the balance;
- spending rows are the outflows per category and month (NOT_SPENDING categories aside);
- a holding's quantity is the sum of its buys, its cost basis their amounts, and its value the
  quantity at the last close (bank/market.py).

One random stream per customer (random.Random, seeded by the caller) drives every choice: the
same seed and the same days give the same rows, whatever else is generated beside them. The
inner loops draw with random() alone and build plain tuples, for speed: a year of a retail
customer is about 600 rows.
"""

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from bank import market

# Categories of outflows that are not spending: money moved between the customer's own
# accounts, and investments bought.
NOT_SPENDING = frozenset({"transfer", "investment"})
OPENING_BALANCE = "Opening balance"
T = TypeVar("T")

# The columns of a generated transaction, as the writer inserts them. account is an index into
# the customer's accounts list (None: of no account) until the writer maps it to a row id.
TX_COLUMNS = (
    "customer_oid", "account_id", "date", "amount", "description", "category", "type",
    "symbol", "currency", "merchant", "mcc",
)  # fmt: skip

# (merchant, MCC) by category. MCCs per ISO 18245 as card networks assign them.
MERCHANTS: dict[str, tuple[tuple[str, str], ...]] = {
    "groceries": (("Whole Foods Market", "5411"), ("Trader Joe's", "5411"), ("Kroger", "5411"),
                  ("Safeway", "5411"), ("Costco Wholesale", "5300"), ("Aldi", "5411"),
                  ("Publix", "5411"), ("H-E-B", "5411"), ("Wegmans", "5411")),
    "dining": (("Starbucks", "5814"), ("Chipotle Mexican Grill", "5814"), ("McDonald's", "5814"),
               ("Sweetgreen", "5814"), ("Olive Garden", "5812"), ("Shake Shack", "5814"),
               ("The Cheesecake Factory", "5812"), ("Panera Bread", "5814"),
               ("DoorDash", "5812"), ("Uber Eats", "5812"), ("Blue Bottle Coffee", "5814")),
    "transport": (("Uber", "4121"), ("Lyft", "4121"), ("Shell", "5541"), ("Chevron", "5541"),
                  ("ExxonMobil", "5541"), ("MTA New York City Transit", "4111"),
                  ("BART Clipper", "4111"), ("SpotHero Parking", "7523")),
    "shopping": (("Amazon.com", "5942"), ("Target", "5310"), ("Walmart", "5310"),
                 ("Best Buy", "5732"), ("Apple Store", "5732"), ("Uniqlo", "5651"),
                 ("Zara", "5651"), ("Nike", "5661"), ("IKEA", "5712"), ("Home Depot", "5200"),
                 ("Etsy", "5999")),
    "entertainment": (("AMC Theatres", "7832"), ("Ticketmaster", "7922"), ("Steam", "5816"),
                      ("Regal Cinemas", "7832"), ("Live Nation", "7922")),
    "healthcare": (("CVS Pharmacy", "5912"), ("Walgreens", "5912"), ("One Medical", "8011"),
                   ("Aspen Dental", "8021"), ("LensCrafters", "8043")),
    "travel": (("Delta Air Lines", "3058"), ("United Airlines", "3000"),
               ("American Airlines", "3001"), ("Marriott", "3509"), ("Hilton", "3504"),
               ("Airbnb", "7011"), ("Expedia", "4722"), ("Hertz", "3357")),
    "education": (("Coursera", "8299"), ("Barnes & Noble", "5942"),
                  ("Bright Horizons", "8351")),
    "household": (("Williams Sonoma", "5719"), ("Crate & Barrel", "5719"),
                  ("TaskRabbit", "7349"), ("Chewy", "5995")),
}  # fmt: skip
SUBSCRIPTIONS = (
    ("Netflix", "4899", 1549), ("Spotify", "5815", 1199), ("Amazon Prime", "5968", 1499),
    ("Apple iCloud+", "5818", 299), ("Disney+", "4899", 1399), ("YouTube Premium", "5815", 1399),
    ("The New York Times", "5994", 1700), ("Planet Fitness", "7997", 2499),
    ("Peloton", "7997", 4400), ("Microsoft 365", "5734", 999), ("Hulu", "4899", 1799),
    ("Audible", "5815", 1495), ("ChatGPT Plus", "5734", 2000),
)  # fmt: skip
ELECTRICITY = (("Con Edison", "4900"), ("PG&E", "4900"), ("Duke Energy", "4900"),
               ("ComEd", "4900"), ("Florida Power & Light", "4900"))  # fmt: skip
INTERNET = (("Comcast Xfinity", "4899"), ("Verizon Fios", "4814"), ("Spectrum", "4899"),
            ("AT&T Internet", "4814"))  # fmt: skip
MOBILE = (("Verizon Wireless", "4814"), ("AT&T Wireless", "4814"), ("T-Mobile", "4814"))
LANDLORDS = ("Greystar Properties", "Equity Residential", "AvalonBay Communities",
             "Camden Property Trust", "Essex Property Trust", "Oakwood Apartments")  # fmt: skip
LENDERS = ("Wells Fargo Home Mortgage", "Chase Home Lending", "Rocket Mortgage")
EMPLOYERS = ("Northwind Traders", "Contoso Ltd", "Globex Corporation", "Initech",
             "Umbrella Health", "Wayne Enterprises", "Soylent Foods", "Hooli",
             "Vandelay Industries", "Pied Piper", "Cyberdyne Systems", "Massive Dynamic",
             "Stark Industries",
             "Acme Corporation", "Tyrell Corporation", "Wonka Industries")  # fmt: skip
PENSION_PAYERS = ("State Retirement System", "Social Security Administration",
                  "Teachers Pension Fund")  # fmt: skip
CLIENTS = ("Blue Harbor Logistics", "Redwood Retail Group", "Summit Health Partners",
           "Crescent Hospitality", "Ironclad Manufacturing", "Atlas Freight", "Evergreen Foods",
           "Keystone Builders", "Lighthouse Media", "Pinnacle Energy", "Horizon Telecom",
           "Riverside Medical")  # fmt: skip
SUPPLIERS = (("Staples Business", "5111"), ("Dell Technologies", "5045"),
             ("FedEx Freight", "4214"), ("Grainger", "5085"), ("Uline", "5113"),
             ("Cintas", "7349"), ("WeWork", "6513"), ("Robert Half", "7361"),
             ("Sysco", "5141"))  # fmt: skip
SOFTWARE = (("Amazon Web Services", "4816"), ("Salesforce", "5734"), ("Slack", "5734"),
            ("Google Workspace", "5734"), ("Zoom", "4816"), ("Adobe", "5734"),
            ("Atlassian", "5734"))  # fmt: skip
BROKERAGE_MCC = "6211"
INVOICES_FROM = dt.date(2015, 1, 1)
# Where a holding is bought from and pays into: the first of these kinds in its currency.
INVESTMENT_ACCOUNTS = ("brokerage", "retirement", "checking", "business", "savings", "money_market")
ATM = ("ATM withdrawal", "6011")


@dataclass(frozen=True)
class Persona:
    # Card visits a month, and the amount of one (cents, from low to high), by category.
    card: dict[str, tuple[float, int, int]]
    subscriptions: tuple[int, int]  # how many, from-to
    housing_share: float  # rent or mortgage, of the monthly income
    save_share: float  # moved to savings each month
    biweekly: float  # the share of customers paid every other Friday
    pension: float  # the share of customers paid a pension


RETAIL_CARD = {
    "groceries": (7.0, 2_500, 18_000), "dining": (9.0, 800, 9_500),
    "transport": (7.0, 300, 6_500), "shopping": (4.0, 1_500, 25_000),
    "entertainment": (1.5, 1_000, 12_000), "healthcare": (1.0, 1_500, 20_000),
    "travel": (0.6, 15_000, 140_000),
}  # fmt: skip
PERSONAS = {
    "conservative": Persona(
        card=RETAIL_CARD
        | {
            "groceries": (9.0, 2_500, 15_000),
            "dining": (5.0, 800, 6_000),
            "healthcare": (2.5, 1_500, 25_000),
            "travel": (0.3, 15_000, 90_000),
        },
        subscriptions=(2, 4),
        housing_share=0.25,
        save_share=0.10,
        biweekly=0.3,
        pension=0.5,
    ),  # fmt: skip
    "balanced": Persona(
        card=RETAIL_CARD,
        subscriptions=(3, 6),
        housing_share=0.28,
        save_share=0.08,
        biweekly=0.5,
        pension=0.0,
    ),  # fmt: skip
    "aggressive": Persona(
        card=RETAIL_CARD
        | {
            "dining": (12.0, 1_200, 14_000),
            "shopping": (6.0, 2_000, 40_000),
            "travel": (1.0, 20_000, 250_000),
            "entertainment": (3.0, 1_500, 20_000),
        },
        subscriptions=(4, 8),
        housing_share=0.22,
        save_share=0.05,
        biweekly=0.4,
        pension=0.0,
    ),  # fmt: skip
    "private_banking": Persona(
        card={c: (n, low * 3, high * 4) for c, (n, low, high) in RETAIL_CARD.items()}
        | {
            "travel": (1.5, 60_000, 900_000),
            "education": (0.5, 50_000, 400_000),
            "household": (2.0, 10_000, 120_000),
        },
        subscriptions=(4, 8),
        housing_share=0.15,
        save_share=0.15,
        biweekly=0.2,
        pension=0.0,
    ),  # fmt: skip
    "corporate": Persona(
        card={
            "travel": (3.0, 30_000, 400_000),
            "dining": (4.0, 5_000, 60_000),
            "office": (3.0, 2_000, 80_000),
        },
        subscriptions=(0, 0),
        housing_share=0.05,
        save_share=0.03,
        biweekly=0.6,
        pension=0.0,
    ),  # fmt: skip
}
MERCHANTS["office"] = (("Staples", "5943"), ("Office Depot", "5943"), ("Amazon Business", "5942"))
# Spending a month, by calendar month (December up; January down), and travel in summer.
SEASON = (0.9, 0.95, 1.0, 1.0, 1.0, 1.05, 1.1, 1.1, 1.0, 1.0, 1.1, 1.35)
TRAVEL_SEASON = (0.6, 0.6, 1.0, 0.9, 1.0, 1.4, 1.9, 1.8, 0.9, 0.8, 0.8, 1.4)
REFUND_CHANCE = {"shopping": 0.06, "travel": 0.04}
# Annual income of a holding, of its value: (yield, payments a year, transaction type).
INCOME_YIELDS = {
    "stock": (0.015, 4, "dividend"), "etf": (0.016, 4, "dividend"),
    "mutual_fund": (0.02, 4, "dividend"), "real_estate": (0.04, 4, "dividend"),
    "bond": (0.04, 2, "interest"), "cash": (0.045, 12, "interest"),
}  # fmt: skip
# Quantities of crypto are in ten-thousandths.
QUANTITY_SCALE = {"crypto": 10_000}


@dataclass
class Account:
    """One of the customer's bank accounts, as the history sees it."""

    kind: str  # checking, savings, money_market, brokerage, retirement, business
    currency: str
    number: str
    iban: str | None = None
    # The balance wanted at the end (a sample's documented balance), or None: any.
    target_cents: int | None = None
    # Filled in by the history.
    balance_cents: int = 0


@dataclass
class Holding:
    asset_type: str
    symbol: str
    units: int  # of 1/QUANTITY_SCALE each
    currency: str

    @property
    def scale(self) -> int:
        return QUANTITY_SCALE.get(self.asset_type, 1)

    @classmethod
    def of_quantity(cls, asset_type: str, symbol: str, quantity: float, currency: str) -> "Holding":
        """The holding of a quantity as an asset row holds it (crypto in fractions)."""
        units = round(quantity * QUANTITY_SCALE.get(asset_type, 1))
        return cls(asset_type, symbol, units, currency)


@dataclass
class Customer:
    oid: str
    persona: str
    income_cents: int  # a month
    payer: str  # the employer, pension payer, or (corporate) unused
    accounts: list[Account]
    holdings: list[Holding]


@dataclass
class History:
    """A customer's generated rows, ready to insert (see TX_COLUMNS)."""

    transactions: list[tuple[object, ...]] = field(default_factory=list)
    # (customer_oid, category, amount, month, currency)
    spending: list[tuple[str, str, int, str, str]] = field(default_factory=list)
    # (customer_oid, asset_type, symbol, quantity, current_value, currency, cost_basis)
    assets: list[tuple[str, str, str, float, int, str, int | None]] = field(default_factory=list)


class Calendar:
    """A span of days, from `first` through `last` (the sandbox's today for a history; the
    days an advance of the clock makes happen). Days are numbered from 0; their ISO texts and
    months are worked out once."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.start = first
        self.today = last
        self.length = (last - first).days + 1
        days = [first + dt.timedelta(days=n) for n in range(self.length)]
        self.iso = [day.isoformat() for day in days]
        self.weekday = [day.weekday() for day in days]
        self.days = days
        # (YYYY-MM, calendar month 1-12, first day, last day), the first and last months
        # possibly partial.
        self.months: list[tuple[str, int, int, int]] = []
        for n, day in enumerate(days):
            if n == 0 or day.day == 1:
                self.months.append((self.iso[n][:7], day.month, n, n))
            key, number, first_day, _ = self.months[-1]
            self.months[-1] = (key, number, first_day, n)

    @classmethod
    def of_history(cls, today: dt.date, months: int) -> "Calendar":
        """From the first day of the month `months` before today's, through today."""
        year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
        return cls(dt.date(year, month + 1, 1), today)

    def business_day_on_or_before(self, n: int) -> int:
        while n > 0 and self.weekday[n] >= 5:
            n -= 1
        return n

    def on_day_of_month(self, day_of_month: int) -> list[int]:
        """The index of `day_of_month` (1-28) in every month of the span that has it."""
        found = []
        for _, _, first, last in self.months:
            n = first + day_of_month - self.days[first].day
            if first <= n <= last:
                found.append(n)
        return found

    def fridays(self, parity: int) -> list[int]:
        """Every other Friday: those of the weeks (counted from 0001-01-01) of this parity, so
        that a schedule goes on the same from one span to the next."""
        return [
            n
            for n in range(self.length)
            if self.weekday[n] == 4 and self.days[n].toordinal() // 7 % 2 == parity
        ]


@dataclass
class Prices:
    """Closes in cents per day of a calendar, per security, worked out once and shared."""

    calendar: Calendar
    closes: dict[str, list[int]] = field(default_factory=dict)

    def of(self, symbol: str) -> list[int]:
        found = self.closes.get(symbol)
        if found is None:
            found = market.daily_closes_cents(symbol, self.calendar.start, self.calendar.today)
            self.closes[symbol] = found
        return found


def units_a_dollar(currency: str) -> int:
    """Roughly how many of the currency's units a dollar buys, for sizing balances: yen are
    counted in hundreds, the others about at par."""
    return 150 if currency == "JPY" else 1


def money_of(units: int, scale: int, close_cents: int) -> int:
    """Cents of `units` (of 1/scale) at `close_cents`, rounded half to even as performance is."""
    value = Decimal(units) / scale * close_cents
    return int(value.to_integral_value(ROUND_HALF_EVEN))


class HistoryWriter:
    """Builds one customer's history; see the module's docstring.

    Two random streams drive it. `rng`, the customer's own, draws what recurs: the pay
    schedule, the rent, the utilities and subscriptions and their days, the favourite
    merchants, a company's clients and suppliers. It draws the same whatever the days, so the
    customer's life can be drawn again later and go on (bank/days.py). The other, seeded from
    the first, draws what happens on the days: each card payment, ATM visit, invoice, buy.
    """

    def __init__(
        self,
        customer: Customer,
        rng: random.Random,
        calendar: Calendar,
        prices: Prices,
        account_ids: Sequence[int],
    ) -> None:
        self.c = customer
        self.ids = list(account_ids)
        self.rng = rng
        self.p: Callable[[], float] = rng.random
        self.events = random.Random(rng.getrandbits(64))
        self.r: Callable[[], float] = self.events.random
        self.cal = calendar
        self.prices = prices
        self.persona = PERSONAS[customer.persona]
        self.rows: list[tuple[object, ...]] = []
        self.net = [0] * len(customer.accounts)
        self.spent: dict[tuple[str, str, str], int] = {}
        self.home = self._account_of(("checking", "business", "savings", "money_market"), "USD")
        self.savings = self._account_of(("savings", "money_market"), "USD", other_than=self.home)

    # --- Helpers ------------------------------------------------------------------------

    def _account_of(
        self, kinds: tuple[str, ...], currency: str, other_than: int | None = None
    ) -> int | None:
        for kind in kinds:
            for n, account in enumerate(self.c.accounts):
                if account.kind == kind and account.currency == currency and n != other_than:
                    return n
        return None

    def add(
        self,
        account: int | None,
        day: int,
        cents: int,
        description: str,
        category: str,
        kind: str,
        *,
        symbol: str | None = None,
        currency: str = "USD",
        merchant: str | None = None,
        mcc: str | None = None,
    ) -> None:
        posted = None
        if account is not None:
            self.net[account] += cents
            currency = self.c.accounts[account].currency
            posted = self.ids[account]
        self.rows.append((
            self.c.oid, posted, self.cal.iso[day], cents, description, category, kind, symbol,
            currency, merchant, mcc,
        ))  # fmt: skip
        if cents < 0 and category not in NOT_SPENDING:
            key = (self.cal.iso[day][:7], category, currency)
            self.spent[key] = self.spent.get(key, 0) - cents

    def times(self, expected: float) -> int:
        """How many times something expected `expected` times over some days happens: the
        whole part, and one more with the chance of the rest. A month cut into spans of days
        (advances of the clock, a day at a time) then sees as many as the whole month would."""
        return int(expected) + (self.r() < expected % 1)

    def pick(self, choices: Sequence[T]) -> T:
        """One of `choices`, drawn as part of the customer's life (the recurring stream)."""
        return choices[int(self.p() * len(choices))]

    # --- The history ----------------------------------------------------------------------

    def live(self) -> None:
        """The customer's everyday life over the calendar's days: everything but the buys of
        holdings and their income."""
        if self.c.persona == "corporate":
            self.business()
        else:
            self.income()
            self.housing()
            self.utilities()
            self.subscriptions()
            self.cash_and_fees()
        self.card_spending()
        self.savings_transfers()
        self.interest_on_foreign_accounts()

    def write(self) -> History:
        self.live()
        history = History()
        history.assets = self.investments()
        # In date order, then as made: the order of ids, and so of a statement's lines.
        self.rows.sort(key=lambda row: row[2])  # type: ignore[arg-type,return-value]
        lowest = self.lowest_running_balances()
        # Opening balances first: on the first day, before anything else of that day. Each
        # is at least what keeps its account from ever going below its floor.
        opening = []
        for n, account in enumerate(self.c.accounts):
            needed = self.floor(account) - lowest[n]
            if account.target_cents is not None:
                surplus = needed - (account.target_cents - self.net[n])
                if surplus > 0:
                    # The year saves more than the balance to close at: the customer moves
                    # the rest out today (after everything else, so no balance dips for it).
                    self.add(n, self.cal.length - 1, -surplus, "Transfer to another bank",
                             "transfer", "transfer")  # fmt: skip
                cents = account.target_cents - self.net[n]
            else:
                cents = max(self.starting_balance(account), needed)
            account.balance_cents = cents + self.net[n]
            opening.append((
                self.c.oid, self.ids[n], self.cal.iso[0], cents, OPENING_BALANCE, "transfer",
                "deposit", None, account.currency, None, None,
            ))  # fmt: skip
        history.transactions = opening + self.rows
        history.spending = [
            (self.c.oid, category, cents, month, currency)
            for (month, category, currency), cents in sorted(self.spent.items())
        ]
        return history

    def lowest_running_balances(self) -> list[int]:
        """Each account's lowest balance along its transactions (in order), from zero."""
        running = [0] * len(self.c.accounts)
        lowest = [0] * len(self.c.accounts)
        number = {posted: n for n, posted in enumerate(self.ids)}
        for row in self.rows:
            posted = row[1]
            if posted is not None:
                n = number[posted]  # type: ignore[index]
                running[n] += row[3]  # type: ignore[operator]
                if running[n] < lowest[n]:
                    lowest[n] = running[n]
        return lowest

    def starting_balance(self, account: Account) -> int:
        """A synthetic account's first balance beyond what its payments need: a few months of
        income (in the account's currency, roughly)."""
        income = self.c.income_cents * units_a_dollar(account.currency)
        months = {"checking": 1.5, "business": 2.0, "brokerage": 1.0, "retirement": 12.0}
        return int(income * months.get(account.kind, 4.0) * (0.5 + self.r()))

    def floor(self, account: Account) -> int:
        """The least an account ever holds: a little in accounts that pay bills and buys."""
        return 0 if account.kind in ("savings", "money_market", "retirement") else 10_000

    def income(self) -> None:
        c, cal, p = self.c, self.cal, self.persona
        payer = c.payer
        if payer in PENSION_PAYERS:
            days = cal.on_day_of_month(3)
            for n in days:
                self.add(self.home, n, c.income_cents, f"Pension {payer}", "income", "deposit",
                         merchant=payer)  # fmt: skip
            return
        if self.p() < p.biweekly:
            parity = int(self.p() * 2)
            pay = c.income_cents * 12 // 26
            for n in cal.fridays(parity):
                self.add(self.home, n, pay, f"Payroll {payer}", "income", "deposit",
                         merchant=payer)  # fmt: skip
            return
        for n in cal.on_day_of_month(25 if self.p() < 0.6 else 1):
            n = cal.business_day_on_or_before(n)
            self.add(self.home, n, c.income_cents, f"Salary {payer}", "income", "deposit",
                     merchant=payer)  # fmt: skip

    def housing(self) -> None:
        cents = -int(self.c.income_cents * self.persona.housing_share * (0.8 + 0.4 * self.p()))
        cents -= cents % 100 if self.p() < 0.8 else 0  # rents are mostly whole dollars
        if self.p() < 0.55:
            landlord, day, what = self.pick(LANDLORDS), 1, "Rent"
        else:
            landlord, day, what = self.pick(LENDERS), 5, "Mortgage payment"
        for n in self.cal.on_day_of_month(day):
            self.add(self.home, n, cents, f"{what} {landlord}", "housing", "payment",
                     merchant=landlord)  # fmt: skip

    def utilities(self) -> None:
        r, p, cal = self.r, self.p, self.cal
        power, power_mcc = self.pick(ELECTRICITY)
        net, net_mcc = self.pick(INTERNET)
        phone, phone_mcc = self.pick(MOBILE)
        net_cents, phone_cents = -(5_999 + int(p() * 5) * 1_000), -(4_500 + int(p() * 8) * 1_000)
        power_day, net_day, phone_day = 5 + int(p() * 20), 1 + int(p() * 27), 1 + int(p() * 27)
        for n in cal.on_day_of_month(power_day):
            month = cal.days[n].month
            season = 1.3 if month in (1, 2, 7, 8, 12) else 1.0
            self.add(self.home, n, -int((6_000 + r() * 10_000) * season), power,
                     "utilities", "payment", merchant=power, mcc=power_mcc)  # fmt: skip
        for n in cal.on_day_of_month(net_day):
            self.add(self.home, n, net_cents, net, "utilities", "payment",
                     merchant=net, mcc=net_mcc)  # fmt: skip
        for n in cal.on_day_of_month(phone_day):
            self.add(self.home, n, phone_cents, phone, "utilities", "payment",
                     merchant=phone, mcc=phone_mcc)  # fmt: skip

    def subscriptions(self) -> None:
        low, high = self.persona.subscriptions
        chosen = self.rng.sample(SUBSCRIPTIONS, low + int(self.p() * (high - low + 1)))
        for name, mcc, cents in chosen:
            for n in self.cal.on_day_of_month(1 + int(self.p() * 28)):
                self.add(self.home, n, -cents, name, "subscriptions", "payment",
                         merchant=name, mcc=mcc)  # fmt: skip

    def cash_and_fees(self) -> None:
        r, p, cal = self.r, self.p, self.cal
        fee = -(499 + int(p() * 3) * 300) if p() < 0.4 else 0
        for _, _, first, last in cal.months:
            for _ in range(self.times(1.0 * (last - first + 1) / 30.4)):
                n = first + int(r() * (last - first + 1))
                self.add(self.home, n, -2_000 * (2 + int(r() * 14)), ATM[0], "cash",
                         "withdrawal", mcc=ATM[1])  # fmt: skip
            # On the month's last day, once the month has one.
            if fee and (cal.days[last] + dt.timedelta(days=1)).day == 1:
                self.add(self.home, last, fee, "Monthly account fee", "fees", "fee")

    def card_spending(self) -> None:
        r, p, cal, add = self.r, self.p, self.cal, self.add
        home = self.home
        scale = max(0.5, min(self.c.income_cents / 600_000, 3.0))
        for category, (visits, low, high) in self.persona.card.items():
            merchants = MERCHANTS[category]
            count = len(merchants)
            # A customer shops at some merchants of a category, more often at the first.
            favourites = [merchants[int(p() * count)] for _ in range(3)] + list(merchants)
            chosen = len(favourites)
            low, high = int(low * scale), int(high * scale)
            span = high - low
            refund = REFUND_CHANCE.get(category, 0.0)
            seasons = TRAVEL_SEASON if category == "travel" else SEASON
            for _, month, first, last in cal.months:
                days = last - first + 1
                for _ in range(self.times(visits * seasons[month - 1] * days / 30.4)):
                    u = r()
                    picked = favourites[int(u * u * chosen)]
                    merchant = picked[0]
                    n = first + int(r() * days)
                    v = r()
                    cents = -(low + int(span * v * v))
                    add(home, n, cents, merchant, category, "payment",
                        merchant=merchant, mcc=picked[1])  # fmt: skip
                    if refund and r() < refund:
                        back = n + 3 + int(r() * 12)
                        if back < cal.length:
                            add(home, back, -cents, f"Refund {merchant}", category, "deposit",
                                merchant=merchant, mcc=picked[1])  # fmt: skip

    def savings_transfers(self) -> None:
        if self.home is None or self.savings is None:
            return
        cents = int(self.c.income_cents * self.persona.save_share) // 5_000 * 5_000
        if cents <= 0:
            return
        to = self.c.accounts[self.savings]
        frm = self.c.accounts[self.home]
        for n in self.cal.on_day_of_month(27):
            self.add(self.home, n, -cents, f"Transfer to {to.kind} {to.number}", "transfer",
                     "transfer")  # fmt: skip
            self.add(self.savings, n, cents, f"Transfer from {frm.kind} {frm.number}",
                     "transfer", "transfer")  # fmt: skip

    def interest_on_foreign_accounts(self) -> None:
        for n, account in enumerate(self.c.accounts):
            if account.currency == "USD" or account.kind not in ("savings", "business"):
                continue
            base = account.target_cents or self.c.income_cents * 4 * units_a_dollar(
                account.currency
            )
            cents = max(int(base * 0.02 / 12), 1)
            for day in self.cal.on_day_of_month(28):
                self.add(n, day, cents, "Interest", "interest", "interest")

    def business(self) -> None:
        """A company's month: invoices paid in, payroll every other Friday (or monthly),
        payroll taxes, office rent, suppliers, software and wire fees."""
        r, p, cal, c = self.r, self.p, self.cal, self.c
        revenue = c.income_cents
        clients = self.rng.sample(CLIENTS, 5)
        suppliers = self.rng.sample(SUPPLIERS, 5)
        software = self.rng.sample(SOFTWARE, 4)
        landlord = self.pick(LANDLORDS)
        # Invoice numbers count on with the days (a company sends fewer than one a day), so
        # a later span of days never numbers one the same as an earlier span.
        invoice = 1000 + int(p() * 8000) + (cal.start - INVOICES_FROM).days
        payroll_share = 0.45 + 0.1 * p()
        if p() < self.persona.biweekly:
            pay_days = cal.fridays(int(p() * 2))
            payroll = int(revenue * payroll_share * 12 / 26)
        else:
            pay_days = [cal.business_day_on_or_before(n) for n in cal.on_day_of_month(28)]
            payroll = int(revenue * payroll_share)
        for n in pay_days:
            self.add(self.home, n, -int(payroll * (0.97 + 0.06 * r())), "Payroll ADP",
                     "payroll", "payment", merchant="ADP")  # fmt: skip
        for _, _, first, last in cal.months:
            days = last - first + 1
            share = days / 30.4
            for _ in range(self.times((6 + r() * 6) * share)):
                invoice += 1
                client = clients[int(r() * len(clients))]
                self.add(self.home, first + int(r() * days),
                         int(revenue / 9 * (0.5 + r())) // 100 * 100,
                         f"Invoice {invoice} {client}", "revenue", "deposit",
                         merchant=client)  # fmt: skip
            for _ in range(self.times((10 + r() * 8) * share)):
                name, mcc = suppliers[int(r() * len(suppliers))]
                self.add(self.home, first + int(r() * days),
                         -int(revenue * (0.005 + 0.03 * r() * r())), name, "suppliers",
                         "payment", merchant=name, mcc=mcc)  # fmt: skip
            for _ in range(self.times((2 + r() * 3) * share)):
                self.add(self.home, first + int(r() * days), -(2_500 + int(r() * 3) * 1_000),
                         "Wire transfer fee", "fees", "fee")  # fmt: skip
        for n in cal.on_day_of_month(15):
            self.add(self.home, n, -int(revenue * payroll_share * 0.18), "IRS EFTPS payroll taxes",
                     "taxes", "payment", merchant="IRS")  # fmt: skip
        rent = -int(revenue * self.persona.housing_share) // 100 * 100
        for n in cal.on_day_of_month(1):
            self.add(self.home, n, rent, f"Office rent {landlord}", "office", "payment",
                     merchant=landlord, mcc="6513")  # fmt: skip
        for name, mcc in software:
            fixed = -int(revenue * (0.001 + 0.004 * p()))
            for n in cal.on_day_of_month(2 + int(p() * 26)):
                varies = 0.85 + 0.3 * r() if name == "Amazon Web Services" else 1.0
                self.add(self.home, n, int(fixed * varies), name, "software", "payment",
                         merchant=name, mcc=mcc)  # fmt: skip

    def investments(self) -> list[tuple[str, str, str, float, int, str, int | None]]:
        """Each holding bought in one to three lots within the history, and what it paid;
        the holding's rows, valued at the last close."""
        r, cal = self.r, self.cal
        assets: list[tuple[str, str, str, float, int, str, int | None]] = []
        for holding in self.c.holdings:
            closes = self.prices.of(holding.symbol)
            account = self._account_of(INVESTMENT_ACCOUNTS, holding.currency)
            sizes = self._split(holding.units, min(1 + int(r() * 3), max(holding.units, 1)))
            # Lots on trading days, oldest first, in the history's first three quarters.
            every_day = holding.asset_type == "crypto"
            days = sorted(self._trading_day(int(r() * cal.length * 0.75), every_day) for _ in sizes)
            cost, held_from = 0, []
            for n, units in zip(days, sizes, strict=True):
                cents = money_of(units, holding.scale, closes[n])
                cost += cents
                held_from.append((n, units))
                shown = _quantity_text(units, holding.scale)
                self.add(account, n, -cents, f"Buy {shown} {holding.symbol}", "investment", "buy",
                         symbol=holding.symbol, currency=holding.currency,
                         mcc=BROKERAGE_MCC)  # fmt: skip
            self._income_of(holding, account, held_from, closes)
            value = money_of(holding.units, holding.scale, closes[cal.length - 1])
            assets.append((
                self.c.oid, holding.asset_type, holding.symbol,
                holding.units / holding.scale, value, holding.currency, cost,
            ))  # fmt: skip
        return assets

    def pay_income_of(self, holding: Holding) -> None:
        """The dividends or coupons of a holding held all through the calendar's days (an
        advance of the clock: the holding as it stands, no buys)."""
        account = self._account_of(INVESTMENT_ACCOUNTS, holding.currency)
        self._income_of(holding, account, [(-1, holding.units)], self.prices.of(holding.symbol))

    def _trading_day(self, n: int, every_day: bool) -> int:
        """Day n, or the nearest weekday after it (before it at the history's end)."""
        if every_day:
            return n
        weekday = self.cal.weekday
        later = next((d for d in range(n, self.cal.length) if weekday[d] < 5), None)
        if later is not None:
            return later
        return next((d for d in range(n, -1, -1) if weekday[d] < 5), n)

    def _split(self, units: int, lots: int) -> list[int]:
        """`units` in `lots` parts of at least one, summing exactly."""
        if lots == 1:
            return [units]
        cuts = sorted({1 + int(self.r() * (units - 1)) for _ in range(lots - 1)})
        bounds = [0, *cuts, units]
        return [b - a for a, b in zip(bounds, bounds[1:], strict=False) if b > a]

    def _income_of(
        self,
        holding: Holding,
        account: int | None,
        held_from: list[tuple[int, int]],
        closes: list[int],
    ) -> None:
        """Dividends or coupons on fixed days of the paying months, on the units held then."""
        found = INCOME_YIELDS.get(holding.asset_type)
        if found is None:
            return
        annual, times, kind = found
        every = 12 // times
        what = "dividend" if kind == "dividend" else "interest"
        for n in self.cal.on_day_of_month(15):
            if self.cal.days[n].month % every:
                continue
            units = sum(u for day, u in held_from if day < n)
            if not units:
                continue
            cents = int(money_of(units, holding.scale, closes[n]) * annual / times)
            if cents > 0:
                self.add(account, n, cents, f"{holding.symbol} {what}", "investment", kind,
                         symbol=holding.symbol, currency=holding.currency)  # fmt: skip


def _quantity_text(units: int, scale: int) -> str:
    if scale == 1:
        return str(units)
    return f"{units / scale:.4f}".rstrip("0").rstrip(".")


def history(
    customer: Customer,
    rng: random.Random,
    calendar: Calendar,
    prices: Prices,
    *,
    account_ids: Sequence[int],
) -> History:
    """The customer's rows (see HistoryWriter), its accounts posted to as `account_ids`; the
    accounts' balance_cents are set."""
    return HistoryWriter(customer, rng, calendar, prices, account_ids).write()


def rng_for(seed: int, index: int) -> random.Random:
    """The random stream of the index-th customer of a seed: independent of the others, and of
    every other seed's (a text seed goes through SHA-512, the same in every process)."""
    return random.Random(f"{seed}:{index}")
