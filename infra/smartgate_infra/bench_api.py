"""`make bench-api`: many traders booking at once through the REST API, into 15-minute windows that fill up.

Set-up (not timed): a gate operator registers ``companies`` trader companies (ids unique to the run) and
sets a small capacity on ``windows`` consecutive windows of the sandbox gate, at least 100 hours ahead
and in a stretch of the 14-day booking horizon nothing has touched yet (tests use windows up to 60 hours
ahead; an earlier run's windows are skipped). Each company's user declares one consignment per booking
attempt.

Timed: ``clients`` threads, each with its own keep-alive :class:`ApiClient`, fire POST /bookings back to
back until the ``bookings`` attempts are used. Each attempt takes one of the ``FRONT`` earliest windows
not yet seen full by any client (as apps showing the slot board would), so the clients race for the
same few windows; as windows fill, the front moves on, and once all are full the rest are refused.
201 (booked) and 409 (refused, e.g. "is full") are answers; anything else, or no reply, is an error.
Before timing, every client sends a few bookings into a window of capacity 0, so the API function's
whole worker pool is warm.

Afterwards the store is checked: for every window used, the bookings in it (``bookings_in_window``) and
its counter (``window(...).booked``) against its capacity. ``overbooked`` is the number of windows
holding more bookings than their capacity. Then moto's request recorder is run around single bookings
(one accepted, one refused) to count the DynamoDB requests a booking costs; the API function's requests
are told apart by their user agent (Chalice's ``exec-env``).

``run_bench_api`` returns the line `smartgate bench-api` prints last, for tools:
``bookings_per_s=… p99_ms=… overbooked=…``: ``bookings_per_s`` is accepted bookings (201) per second of
the timed run's wall time (the lines above it also give answered requests per second), ``p99_ms`` the
99th percentile latency of the answered POST /bookings, ``overbooked`` the number of windows (of the
run's, the warm-up's and the recorded bookings' windows) holding more bookings than their capacity.
It also prints the CPU each part of the stack used during the timed run, and what other processes on
the machine used meanwhile (they slow the run down).
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from smartgate.domain.slots import HORIZON, WINDOW, window_start
from smartgate.schemas import utc_now
from smartgate.stats import percentile
from smartgate_infra.api_client import ApiClient
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import RUBBER_LINE
from smartgate_infra.services import ServiceError
from smartgate_infra.stack import StackState

GATE, DIRECTION = "sandbox", "VN_TO_CN"
EARLIEST = timedelta(hours=100)
"""The first window the benchmark may use: clear of the tests' windows (at most 60 hours ahead)."""
LATEST = HORIZON - timedelta(hours=12)
"""The last: well inside the booking horizon, also at the end of a long run."""
FRONT = 3
"""Clients pick among this many of the earliest windows not known to be full."""
WARMUP_PER_CLIENT = 3
PROBES = 3
"""Single bookings recorded to count DynamoDB requests (each accepted), plus one refused."""
GOODS = [RUBBER_LINE]
DYNAMODB = "DynamoDB_20120810."
API_AGENT = "aws-chalice"
"""In the user agent of the API function's requests (Chalice sets the ``exec-env``), not the others'."""


# --------------------------------------------------------------------------- pure helpers


def pick_window(rng: random.Random, count: int, full: Iterable[int], front: int = FRONT) -> int:
    """One of the ``front`` earliest windows (0 .. count-1) not in ``full``; any window when all are full."""
    known = set(full)
    open_ = [i for i in range(count) if i not in known][:front]
    return rng.choice(open_) if open_ else rng.randrange(count)


def free_block(taken: set[datetime], first: datetime, last: datetime, size: int, start: datetime) -> datetime | None:
    """The first start (from ``start`` on, wrapping round to ``first``) of ``size`` consecutive windows
    between ``first`` and ``last`` none of which is in ``taken``; None when there is no such stretch."""
    slots = int((last - first) / WINDOW) + 1
    offset = max(0, min(slots - 1, int((start - first) / WINDOW)))
    for n in range(slots):
        begin = first + WINDOW * ((offset + n) % slots)
        block = [begin + WINDOW * k for k in range(size)]
        if block[-1] <= last and not taken.intersection(block):
            return begin
    return None


def overbooked_windows(capacity: dict[datetime, int], held: dict[datetime, int]) -> list[datetime]:
    """The windows holding more bookings than their capacity."""
    return sorted(w for w, cap in capacity.items() if held.get(w, 0) > cap)


@dataclass(frozen=True)
class Call:
    operation: str
    table: str | None
    api: bool


def recorded_calls(recording: str) -> list[Call]:
    """The DynamoDB requests in a moto recording (one JSON object a line), in order."""
    calls = []
    for line in recording.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        headers = {k.lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        target = headers.get("x-amz-target", "")
        if not target.startswith(DYNAMODB):
            continue
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            request = {}
        tables = [request.get("TableName")] + [  # a transaction's items name theirs
            op.get("TableName") for item in request.get("TransactItems") or [] for op in item.values()
        ]
        calls.append(
            Call(
                target[len(DYNAMODB) :],
                "+".join(t for t in tables if t) or None,
                API_AGENT in headers.get("user-agent", ""),
            )
        )
    return calls


def describe_calls(calls: list[Call]) -> str:
    """``5 (GetItem 2, PutItem 1, …)``: how many, by operation."""
    ops = Counter(c.operation for c in calls)
    return f"{len(calls)} (" + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())) + ")"


# --------------------------------------------------------------------------- where the CPU goes


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    cmdline: str
    cpu_s: float


def cpu_groups(procs: Iterable[Proc], aws: int | None, runtime: int | None, me: int) -> dict[str, float]:
    """CPU seconds by part of the stack: the emulator, the runtime, the API function's workers, the other
    functions' workers and this benchmark (its client threads)."""
    groups: dict[str, float] = dict.fromkeys(("moto", "runtime", "API workers", "other workers", "clients"), 0.0)
    for p in procs:
        if p.pid == aws:
            groups["moto"] += p.cpu_s
        elif p.pid == runtime:
            groups["runtime"] += p.cpu_s
        elif p.pid == me:
            groups["clients"] += p.cpu_s
        elif runtime is not None and p.ppid == runtime:
            groups["API workers" if "/functions/api " in p.cmdline + " " else "other workers"] += p.cpu_s
    return groups


def _procs() -> list[Proc]:
    """Every process's CPU time so far (Linux /proc; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    out = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        out.append(Proc(int(entry.name), int(fields[1]), cmdline, (int(fields[11]) + int(fields[12])) / ticks))
    return out


def _machine_busy() -> float:
    """CPU seconds all cores of this machine have been busy (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except (OSError, ValueError):
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


class CpuMeter:
    """CPU used by the parts of the stack, and by everything else on the machine (other work running at
    the same time slows the benchmark down)."""

    def __init__(self, state: StackState) -> None:
        self.aws, self.runtime = state.pids.get("aws"), state.pids.get("runtime")
        self.before, self.busy = self._now(), _machine_busy()

    def _now(self) -> dict[str, float]:
        return cpu_groups(_procs(), self.aws, self.runtime, os.getpid())

    def used(self) -> dict[str, float]:
        """CPU seconds by group since the meter was made (a worker started meanwhile counts whole)."""
        now = self._now()
        used = {k: now[k] - self.before.get(k, 0.0) for k in now}
        used["other processes"] = max(0.0, _machine_busy() - self.busy - sum(used.values()))
        return used


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Company:
    company_id: str
    token: str
    api: ApiClient


@dataclass(frozen=True)
class Attempt:
    company: Company
    consignment_id: str


@dataclass
class Board:
    """What the clients know of the windows: which are full (shared, as a slot board is)."""

    count: int
    full: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, rng: random.Random) -> int:
        with self.lock:
            return pick_window(rng, self.count, self.full)

    def mark_full(self, index: int) -> None:
        with self.lock:
            self.full.add(index)


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def answered(self) -> int:
        return self.statuses[201] + self.statuses[409]

    def add(self, status: int | None, ms: float, detail: str) -> None:
        with self.lock:
            if status is None:
                self.errors.append(detail)
                return
            self.statuses[status] += 1
            if status in (201, 409):
                self.latencies_ms.append(ms)
                if status == 409:
                    self.refusals["window full" if "is full" in detail else detail] += 1
            else:
                self.errors.append(f"{status} {detail}")


class BenchApi:
    def __init__(self, state: StackState, say: Callable[..., None] = print) -> None:
        self.state = state
        self.say = say
        self.stack = StackClient(state)
        self.operator = ApiClient(state.api_url, self.stack.token_for("gate-operator", ["operators"]))
        self.run_id = uuid.uuid4().hex[:6].upper()

    # ---- set-up

    def choose_windows(self, count: int, rng: random.Random) -> list[datetime]:
        """``count`` consecutive windows no earlier run or test has stored, from a random point on."""
        now = utc_now()
        first = window_start(now + EARLIEST) + WINDOW
        last = window_start(now + LATEST)
        taken: set[datetime] = set()
        day = first.replace(hour=0, minute=0)
        while day <= last:
            taken.update(w.start for w in self.stack.trade.windows(GATE, DIRECTION, day))
            day += timedelta(days=1)
        span = int((last - first) / WINDOW)
        begin = free_block(taken, first, last, count, first + WINDOW * rng.randrange(span + 1))
        if begin is None:
            raise ServiceError(
                f"no {count} untouched windows left between {EARLIEST.total_seconds() / 3600:.0f} h and "
                f"{LATEST.days} days ahead at {GATE}; restart the stack (`smartgate down`) for a clean store"
            )
        return [begin + WINDOW * n for n in range(count)]

    def set_capacity(self, capacity: dict[datetime, int]) -> None:
        items = sorted(capacity.items())
        for n in range(0, len(items), 96):  # the API takes at most 96 windows a request
            reply = self.operator.put(
                f"/gates/{GATE}/capacity",
                {
                    "direction": DIRECTION,
                    "windows": [{"start": w.isoformat(), "capacity": c} for w, c in items[n : n + 96]],
                },
            )
            if reply.status != 200:
                raise ServiceError(f"setting capacity refused: {reply.status} {reply.raw[:300]!r}")

    def register(self, n: int, limit: int) -> Company:
        company_id = f"BA{self.run_id}-{n:03d}"
        reply = self.operator.post(
            "/companies",
            {
                "company_id": company_id,
                "name": f"Bench company {company_id}",
                "country": "VN",
                "tax_id": "0101234567",
                "booking_limit": limit,
            },
        )
        if reply.status != 201:
            raise ServiceError(f"registering {company_id} refused: {reply.status} {reply.raw[:300]!r}")
        token = self.stack.token_for(f"bench-{company_id.lower()}", ["traders"], company_id)
        return Company(company_id, token, ApiClient(self.state.api_url, token))

    def declare(self, company: Company, n: int) -> str:
        reply = company.api.post(
            "/consignments",
            {
                "gate_id": GATE,
                "direction": DIRECTION,
                "country": "VN",
                "plate_text": f"24C-{100 + n // 100 % 900:03d}.{n % 100:02d}",
                "container_nos": ["MSCU1234566"],
                "goods": GOODS,
            },
        )
        if reply.status != 201:
            raise ServiceError(f"declaring for {company.company_id} refused: {reply.status} {reply.raw[:300]!r}")
        return str(reply.body["consignment_id"])

    # ---- booking

    @staticmethod
    def book(api: ApiClient, attempt: Attempt, start: datetime) -> tuple[int | None, float, str]:
        """(status or None when there was no reply, ms, the problem's detail)."""
        began = time.perf_counter()
        try:
            reply = api.call(
                "POST",
                "/bookings",
                {"consignment_id": attempt.consignment_id, "window_start": start.isoformat()},
                headers={"Authorization": attempt.company.token},
            )
        except OSError as err:
            return None, (time.perf_counter() - began) * 1000, f"no reply: {err}"
        ms = (time.perf_counter() - began) * 1000
        return reply.status, ms, str(reply.problem.get("detail", "")) if reply.status != 201 else ""

    def run(
        self,
        clients: int,
        companies: int,
        bookings: int,
        windows: int,
        capacity: int,
        seed: int | None,
    ) -> tuple[str, bool]:
        say = self.say
        seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        rng = random.Random(seed)
        per_company = -(-bookings // companies)
        rate = int(self.stack.template.parameters.get("BookingsPerCompanyPerMinute", "60"))
        if per_company + WARMUP_PER_CLIENT + PROBES + 1 > rate:
            say(
                f"note: {per_company} booking requests per company; more than {rate} in a minute get 429 "
                "(BookingsPerCompanyPerMinute), counted as errors: add --companies"
            )
        warm, probe, *bench = self.choose_windows(windows + 2, rng)
        caps = {warm: 0, probe: PROBES, **dict.fromkeys(bench, capacity)}
        self.set_capacity(caps)
        say(
            f"run {self.run_id} (seed {seed}): {windows} windows of capacity {capacity} at {GATE} {DIRECTION}, "
            f"{bench[0]:%Y-%m-%d %H:%M}Z to {bench[-1] + WINDOW:%Y-%m-%d %H:%M}Z; {bookings} booking attempts by "
            f"{companies} companies from {clients} clients"
        )
        began = time.perf_counter()
        limit = max(20, min(500, per_company + PROBES + 1))
        fleet = [self.register(n, limit) for n in range(companies)]
        owners = [fleet[k % companies] for k in range(bookings)]  # a company's attempts go to several clients
        with ThreadPoolExecutor(max_workers=min(clients, 16)) as pool:
            ids = list(pool.map(lambda k: self.declare(owners[k], k), range(bookings)))
            spare = list(pool.map(lambda k: self.declare(fleet[0], bookings + k), range(PROBES + 1)))
        attempts = [Attempt(o, c) for o, c in zip(owners, ids, strict=True)]
        say(
            f"set-up: {companies} companies, {bookings + PROBES + 1} declarations in "
            f"{time.perf_counter() - began:.1f} s (not timed)"
        )

        apis = [ApiClient(self.state.api_url) for _ in range(clients)]
        shares = [attempts[c::clients] for c in range(clients)]
        warmed = Tally()

        def warm_up(c: int) -> None:
            for k in range(WARMUP_PER_CLIENT):
                share = shares[c] or attempts
                warmed.add(*self.book(apis[c], share[k % len(share)], warm))

        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(warm_up, range(clients)))
        say(
            f"warm-up: {warmed.answered} bookings into a window of capacity 0, p50 "
            f"{percentile(warmed.latencies_ms, 50):.0f} ms, errors {len(warmed.errors)} (not timed)"
        )

        board = Board(len(bench))
        tally = Tally()
        ready = threading.Barrier(clients + 1)
        done = threading.Event()

        def client(c: int) -> None:
            crng = random.Random(seed * 1000 + c)
            ready.wait()
            for attempt in shares[c]:
                index = board.pick(crng)
                status, ms, detail = self.book(apis[c], attempt, bench[index])
                if status == 409 and "is full" in detail:
                    board.mark_full(index)
                tally.add(status, ms, detail)

        threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
        for t in threads:
            t.start()
        cpu = CpuMeter(self.state)
        ready.wait()
        started = time.perf_counter()
        reporter = threading.Thread(target=self._report, args=(tally, bookings, started, done), daemon=True)
        reporter.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        used = cpu.used()
        done.set()
        reporter.join()

        lat = tally.latencies_ms
        accepted, refused = tally.statuses[201], tally.statuses[409]
        say(
            f"timed: {bookings} POST /bookings from {clients} clients in {wall:.1f} s: {accepted} booked (201), "
            f"{refused} refused (409: "
            + (", ".join(f"{k} {v}" for k, v in tally.refusals.most_common()) or "none")
            + f"), {len(tally.errors)} errors"
        )
        for problem, n in Counter(tally.errors).most_common(5):
            say(f"  error x{n}: {problem[:200]}")
        say(
            f"throughput: {accepted / wall:.1f} bookings/s accepted, {tally.answered / wall:.1f} requests/s answered "
            f"(201 or 409); windows seen full: {len(board.full)}/{len(bench)}"
        )
        say(
            f"latency of answered requests: p50 {percentile(lat, 50):.1f} ms, p90 {percentile(lat, 90):.1f} ms, "
            f"p99 {percentile(lat, 99):.1f} ms, max {max(lat, default=float('nan')):.1f} ms"
        )

        others = used.pop("other processes")
        if sum(used.values()) > 0:
            cores = os.cpu_count() or 1
            say(
                f"CPU during the timed run ({cores} cores x {wall:.1f} s = {cores * wall:.1f} s): stack and clients "
                f"{sum(used.values()):.1f} s, other processes on this machine {others:.1f} s; per answered request: "
                + ", ".join(f"{k} {v / max(1, tally.answered) * 1000:.1f} ms" for k, v in used.items())
            )
        over, consistent = self.verify(caps, accepted, bench)
        self.count_requests(probe, warm, [Attempt(fleet[0], c) for c in spare])
        ok = not over and consistent and not tally.errors
        say("ok" if ok else "NOT OK: see above")
        return f"bookings_per_s={accepted / wall:.1f} p99_ms={percentile(lat, 99):.1f} overbooked={len(over)}", ok

    def _report(self, tally: Tally, total: int, started: float, done: threading.Event) -> None:
        while not done.wait(5):
            with tally.lock:
                n, lat = tally.answered + len(tally.errors), list(tally.latencies_ms)
            self.say(
                f"  {n}/{total} after {time.perf_counter() - started:.0f} s, p50 so far "
                f"{percentile(lat, 50):.0f} ms, p99 so far {percentile(lat, 99):.0f} ms"
            )

    # ---- afterwards

    def verify(self, caps: dict[datetime, int], accepted: int, bench: list[datetime]) -> tuple[list[datetime], bool]:
        """(the windows holding more bookings than their capacity, whether the counts agree: each window's
        counter with its bookings, the bookings stored with those accepted)."""
        held: dict[datetime, int] = {}
        mismatched = []
        for start, cap in caps.items():
            stored = self.stack.trade.window(GATE, DIRECTION, start)
            held[start] = len(self.stack.trade.bookings_in_window(GATE, DIRECTION, start))
            if stored.booked != held[start] or stored.capacity(cap) != cap:
                mismatched.append(f"{start:%m-%d %H:%M}Z counter {stored.booked}, bookings {held[start]}")
        over = overbooked_windows(caps, held)
        in_bench = sum(held[w] for w in bench)
        filled = sum(1 for w in bench if held[w] >= caps[w])
        self.say(
            f"store: {in_bench} bookings in {len(bench)} windows ({filled} full), {accepted} accepted; "
            f"overbooked windows: {len(over)}"
            + "".join(f"; {w:%m-%d %H:%M}Z holds {held[w]} of {caps[w]}" for w in over)
        )
        if in_bench != accepted:
            self.say(f"  MISMATCH: {accepted} bookings were accepted but {in_bench} are in the store")
        for line in mismatched:
            self.say(f"  MISMATCH: {line}")
        return over, in_bench == accepted and not mismatched

    def _moto(self, action: str) -> str:
        method = "GET" if action == "download-recording" else "POST"
        request = urllib.request.Request(f"{self.state.endpoint_url}/moto-api/recorder/{action}", method=method)
        with urllib.request.urlopen(request, timeout=30) as reply:
            return str(reply.read().decode(errors="replace"))

    def _recording_file(self) -> Path | None:
        """moto's recording file (relative to its working directory), where this machine can tell."""
        name = os.environ.get("MOTO_RECORDER_FILEPATH", "moto_recording")
        pid = self.state.pids.get("aws")
        base = Path(f"/proc/{pid}/cwd")
        return (base / name).resolve() if pid and base.exists() else None

    def recorded(self, api: ApiClient, attempt: Attempt, start: datetime) -> tuple[int | None, list[Call]]:
        """One booking with moto's recorder on: (its status, the DynamoDB requests made meanwhile)."""
        time.sleep(1.0)  # let the functions the earlier bookings set off (streams, outbox) go quiet
        self._moto("reset-recording")
        self._moto("start-recording")
        try:
            status, _, _ = self.book(api, attempt, start)
        finally:
            self._moto("stop-recording")
        calls = recorded_calls(self._moto("download-recording"))
        self._moto("reset-recording")
        return status, calls

    def count_requests(self, probe: datetime, full: datetime, spare: list[Attempt]) -> None:
        """DynamoDB requests of single bookings, from moto's recorder (nothing else is booking then)."""
        file = self._recording_file()
        existed = file is not None and file.exists()
        api = ApiClient(self.state.api_url)
        try:
            booked = [self.recorded(api, a, probe) for a in spare[:PROBES]]
            refused_status, refused = self.recorded(api, spare[PROBES], full)
        except OSError as err:
            self.say(f"dynamodb_calls_per_booking=unknown (moto's recorder: {err})")
            return
        finally:
            if file is not None and not existed and file.exists() and file.stat().st_size == 0:
                file.unlink()
        ours = [[c for c in calls if c.api] for status, calls in booked if status == 201]
        others = sum(1 for calls in (*(c for _, c in booked), refused) for c in calls if not c.api)
        if not ours:
            self.say(f"dynamodb_calls_per_booking=unknown (recorded bookings answered {[s for s, _ in booked]})")
            return
        counts = Counter(len(c) for c in ours)
        typical = max(ours, key=lambda c: counts[len(c)])
        self.say(
            f"dynamodb_calls_per_booking={describe_calls(typical)} [{len(ours)} bookings recorded one at a time: "
            + ", ".join(f"{n} calls x{k}" for n, k in sorted(counts.items()))
            + "]"
        )
        prefix = f"{self.stack.template.stack_name}-"
        self.say("  " + "; ".join(f"{c.operation} {(c.table or '?').replace(prefix, '')}" for c in typical))
        self.say(
            f"dynamodb_calls_per_refused_booking={describe_calls([c for c in refused if c.api])} "
            f"(window full, status {refused_status}); other functions' DynamoDB requests meanwhile: {others}"
        )


def run_bench_api(
    state: StackState,
    clients: int = 50,
    companies: int = 50,
    bookings: int = 1200,
    windows: int = 40,
    capacity: int = 10,
    seed: int | None = None,
    say: Callable[..., None] = print,
) -> tuple[str, bool]:
    """(the line `smartgate bench-api` prints last, whether all went well: no errors, no window overbooked,
    the store's counts agree)."""
    if min(clients, companies, bookings, windows) < 1 or capacity < 0:
        raise ServiceError("--clients, --companies, --bookings and --windows must be at least 1")
    return BenchApi(state, say).run(clients, companies, bookings, windows, capacity, seed)
