"""What scripts/sigterm-test and scripts/crash-test share: a real `courtyard demo` server on a scratch database (SQLite
or PostgreSQL), the HTTP calls, a mixed load whose acknowledged work is recorded, and the invariants checked after a
restart. Python's standard library, `cryptography` for the payment channels' signatures (scripts/channels.py), and
the `psql` client on PostgreSQL.

Everything runs on 127.0.0.1. The load sends only what a real client could: readings in batches and one at a time,
top-ups, ledger transfers, last month's bill run of each community, cash payments of its bills at the desk, refunds
of some of those payments, and WeChat Pay and Alipay top-up orders paid by the channels' signed notifications (the
channels faked at their HTTP boundary, the server verifying with its real code).
"""
import datetime
import glob
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from channels import Channels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("COURTYARD_BIN", os.path.join(ROOT, ".build", "debug", "courtyard"))
PASSWORD = "courtyard-demo"
# Errors that mean "the server is not answering" (stopped, killed, restarting): what was answered before counts.
GONE = (urllib.error.URLError, ConnectionError, OSError, TimeoutError)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url, sql):
    answer = subprocess.run(["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
    if answer.returncode != 0:
        raise SystemExit(f"psql failed: {answer.stderr.strip()}")
    return [line for line in answer.stdout.splitlines() if line != ""]


class Server:
    """A scratch database and the demo server on it, started and stopped as often as a test needs."""

    def __init__(self, engine, tag):
        self.engine = engine
        self.tag = tag
        self.work = tempfile.mkdtemp(prefix=f"courtyard-{tag}.")
        self.process = None
        self.port = None
        self.admin_url = os.environ.get("COURTYARD_TEST_POSTGRES_URL", "")
        if engine == "postgres":
            if not self.admin_url:
                raise SystemExit(f"[{tag}] --engine postgres needs COURTYARD_TEST_POSTGRES_URL")
            self.database_name = f"courtyard_{tag.replace('-', '_')}_" + os.urandom(6).hex()
            self.database = self.admin_url.rsplit("/", 1)[0] + "/" + self.database_name
            psql(self.admin_url, f"CREATE DATABASE {self.database_name}")
        elif engine == "sqlite":
            self.database = os.path.join(self.work, "demo.sqlite")
        else:
            raise SystemExit(f"[{tag}] --engine is sqlite or postgres")
        if not os.access(BIN, os.X_OK):
            raise SystemExit(f"[{tag}] no courtyard binary at {BIN}")
        # WeChat Pay and Alipay for the demo company, faked locally; the configuration names the demo by its code.
        self.channels = Channels(self.work)

    def say(self, text):
        print(f"[{self.tag} {self.engine}] {text}", flush=True)

    def start(self, log_name, timeout=300):
        """Starts the server and waits for /health; returns the seconds it took."""
        self.port = free_port()
        log = open(os.path.join(self.work, log_name), "w")
        started = time.time()
        self.process = subprocess.Popen([BIN, "demo", "--database", self.database, "--port", str(self.port),
                                         "--payments-config", self.channels.config_path], cwd=self.work,
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = started + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"[{self.tag}] FAIL the server exited at start (status {self.process.returncode}); see {self.work}/{log_name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return time.time() - started
            except GONE:
                time.sleep(0.05)
        self.process.kill()
        raise SystemExit(f"[{self.tag}] FAIL the server did not answer /health within {timeout} s")

    def signal(self, number):
        self.process.send_signal(number)

    def wait(self, timeout):
        return self.process.wait(timeout=timeout)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def call(self, method, path, token=None, body=None, timeout=30):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")

    def post_raw(self, path, body, headers, timeout=30):
        """POSTs bytes as a channel would; returns (status, text) for any status."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def login(self, name):
        return self.call("POST", "/api/v1/auth/login", body={"login": name, "password": PASSWORD})[1]["token"]

    def ledger_verify(self):
        verify = subprocess.run([BIN, "ledger", "verify", "--database", self.database, "--log-level", "error"],
                                capture_output=True, text=True)
        return verify.returncode == 0, (verify.stdout.strip() + " " + verify.stderr.strip()).strip()

    def stored(self):
        return Stored(self)

    def finish(self, keep):
        """Stops the server, drops a PostgreSQL database, and removes the work folder unless `keep`."""
        self.stop()
        self.channels.close()
        if self.engine == "postgres":
            psql(self.admin_url, f"DROP DATABASE IF EXISTS {self.database_name} WITH (FORCE)")
        if keep:
            self.say(f"logs kept in {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class Stored:
    """Read-only queries on the server's database, SQLite or PostgreSQL, with `?` parameters (ids the load made)."""

    def __init__(self, server):
        self.server = server
        self.sqlite = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True) if server.engine == "sqlite" else None

    def rows(self, sql, parameters=()):
        if self.sqlite is not None:
            return [tuple(row) for row in self.sqlite.execute(sql, parameters)]
        pieces = sql.split("?")
        if len(pieces) != len(parameters) + 1:
            raise SystemExit(f"{len(parameters)} parameters for {sql}")
        text = pieces[0]
        for value, piece in zip(parameters, pieces[1:]):
            text += "'" + str(value).replace("'", "''") + "'" + piece
        return [tuple(line.split("|")) for line in psql(self.server.database, text)]

    def column(self, sql, parameters=()):
        return [row[0] for row in self.rows(sql, parameters)]

    def scalar(self, sql, parameters=()):
        return int(self.rows(sql, parameters)[0][0])

    def close(self):
        if self.sqlite is not None:
            self.sqlite.close()


class Load:
    """A mixed load on a running server, recording what was acknowledged. Call `start`, later `stop`; a new `Load` per
    server start (ids carry `prefix`, so loads of successive starts never collide). Readings of each meter rise across
    loads (`clock` is shared)."""

    def __init__(self, server, prefix, clock, bill=True):
        self.server = server
        self.prefix = prefix
        self.clock = clock
        self.bill = bill
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.billed = threading.Event()
        self.desk_done = threading.Event()  # the desk has been through every open bill (later starts find none left)
        self.failures = []
        self.readings = []       # reading ids acknowledged as accepted
        self.topups = []         # top-up ids acknowledged (201)
        self.payments = []       # desk payment ids acknowledged (201): of bills, and then of electricity wallets
        self.refunds = []        # refund request ids acknowledged (201)
        self.transfers = []      # ledger transfer ids acknowledged as applied
        self.bill_runs = []      # (community id, summary) of bill runs answered
        self.callbacks = []      # (channel, channel transaction id) of payment notifications acknowledged
        self.supply_acks = []    # (command id, action) of the prepaid meter's commands acknowledged as carried out
        self.threads = []

    def start(self):
        s = self.server
        self.engineer = s.login("engineer@demo")
        self.finance = s.login("finance@demo")
        self.desk = s.login("frontdesk@demo")
        _, page = s.call("GET", "/api/v1/devices?kind=electricity_meter&limit=48", self.engineer)
        self.devices = [item["device_key"] for item in page["items"]]
        _, houses = s.call("GET", "/api/v1/houses?limit=8", self.finance)
        self.house_ids = [item["id"] for item in houses["items"]]
        self.houses = houses["items"]
        _, communities = s.call("GET", "/api/v1/communities?limit=10", self.finance)
        self.communities = [item["id"] for item in communities["items"]]
        if len(self.devices) < 8 or not self.house_ids:
            raise SystemExit(f"FAIL the demo has {len(self.devices)} meters and {len(self.house_ids)} houses")
        work = [(self._readings, (worker, self.devices[worker::6], 40 if worker < 4 else 1)) for worker in range(6)]
        work.append((self._top_ups, ()))
        work.append((self._transfers, ()))
        work.append((self._channel_payments, ()))
        work.append((self._cut_offs, ()))
        if self.bill:
            work.append((self._billing, ()))
            work.append((self._desk_payments, ()))
        for body, arguments in work:
            thread = threading.Thread(target=self._guarded, args=(body, *arguments))
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=180)

    def _guarded(self, body, *arguments):
        try:
            body(*arguments)
        except GONE:
            return
        except Exception as error:  # noqa: BLE001 - reported as a failure of the test, not a thread's traceback
            self.failures.append(f"{body.__name__}: {error!r}")

    def _readings(self, worker, keys, per_request):
        # Rising readings after the demo's own, ten seconds apart per meter (0.1 kWh a minute); batches of up to
        # `per_request`.
        while not self.stop_event.is_set():
            step = self.clock.next()
            measured = self.clock.time(step)
            milli = step * 5 // 3
            batch = [{"device_key": key, "reading": f"{50000 + milli // 1000}.{milli % 1000:03d}", "measured_at": measured,
                      "message_id": f"{self.prefix}-{worker}-{step}-{key}"} for key in keys[:per_request]]
            try:
                _, answer = self.server.call("POST", "/api/v1/readings", self.engineer, batch, timeout=60)
            except urllib.error.HTTPError as error:
                if error.code >= 500:
                    self.failures.append(f"readings: HTTP {error.code}")
                return
            items = answer.get("items", []) if isinstance(answer, dict) else answer
            rejected = [item for item in items if item.get("status") == "rejected"]
            if rejected:
                # The load's readings are all valid: a refusal means the load stopped testing (e.g. its clock ran
                # into the future), which must fail the run rather than pass it with nothing sent.
                self.failures.append(f"readings: {len(rejected)} rejected, e.g. {rejected[0]}")
                return
            with self.lock:
                self.readings.extend(item["reading_id"] for item in items if item.get("status") == "accepted")

    def _top_ups(self):
        count = 0
        while not self.stop_event.is_set():
            count += 1
            top_up = {"id": f"{self.prefix}-topup-{count}", "purpose": "electricity",
                      "amount": {"amount": "1.00", "currency": "CNY"}, "channel": "cash"}
            try:
                status, _ = self.server.call("POST", f"/api/v1/houses/{self.house_ids[count % len(self.house_ids)]}/top-ups",
                                             self.finance, top_up)
            except urllib.error.HTTPError as error:
                if error.code in (404, 409, 422):  # a house without a prepaid plan: try the next
                    continue
                self.failures.append(f"top-up: HTTP {error.code}")
                return
            if status == 201:
                with self.lock:
                    self.topups.append(top_up["id"])

    def _transfers(self):
        # The finance clerk moves 0.01 from each community's cash clearing account into a house's electricity wallet,
        # five transfers a request, each answered on its own.
        count = 0
        while not self.stop_event.is_set():
            count += 1
            batch = []
            for index in range(5):
                house = self.houses[(count + index) % len(self.houses)]
                community = house["community_id"]
                batch.append({
                    "id": f"{self.prefix}-xfer-{count}-{index}",
                    "debit": {"community_id": community, "kind": "clearing", "owner": "community", "purpose": "cash"},
                    "credit": {"community_id": community, "kind": "wallet", "owner": house["id"], "purpose": "electricity"},
                    "amount": {"amount": "0.01", "currency": "CNY"}, "code": "top_up"})
            try:
                _, answer = self.server.call("POST", "/api/v1/ledger/transfers", self.finance, {"transfers": batch})
            except urllib.error.HTTPError as error:
                self.failures.append(f"transfers: HTTP {error.code} {error.read()[:200]!r}")
                return
            with self.lock:
                self.transfers.extend(item["id"] for item in answer["items"] if item.get("status") == "applied")

    def _channel_payments(self):
        # Owners top up by WeChat Pay and Alipay: the finance clerk's order (the server asks the channel for a QR code),
        # then the channel's signed notification; every third is delivered twice, as channels retry.
        s = self.server
        count = 0
        while not self.stop_event.is_set():
            count += 1
            channel = "wechatpay" if count % 2 else "alipay"
            order = {"id": f"{self.prefix}-order-{count}", "house_id": self.house_ids[count % len(self.house_ids)], "purpose": "top_up",
                     "channel": channel, "wallet_purpose": "electricity", "amount": {"amount": "1.00", "currency": "CNY"}}
            try:
                _, answer = s.call("POST", "/api/v1/payment-orders", self.finance, order)
            except urllib.error.HTTPError as error:
                self.failures.append(f"payment order: HTTP {error.code} {error.read()[:200]!r}")
                return
            transaction = f"{self.prefix}-{channel}-{count}"
            if channel == "wechatpay":
                body, headers = s.channels.wechat_notification(answer["out_trade_no"], transaction, 100)
                path, acknowledged = "/api/v1/payments/notify/wechatpay", (lambda status, text: status == 204)
            else:
                body, headers = s.channels.alipay_notification(answer["out_trade_no"], transaction, "1.00")
                path, acknowledged = "/api/v1/payments/notify/alipay", (lambda status, text: status == 200 and text == "success")
            for attempt in range(2 if count % 3 == 0 else 1):
                status, text = s.post_raw(path, body, headers)
                if not acknowledged(status, text):
                    self.failures.append(f"{channel} notification: HTTP {status} {text[:200]!r}")
                    return
                if attempt == 0:
                    with self.lock:
                        self.callbacks.append((channel, transaction))

    def _prepaid_meter(self):
        """The meter the cut-off load drives: an electricity meter no other load reads, put on a plan with no friendly
        windows and no emergency credit (a plan per database, made by the first load; found again after a restart)."""
        s = self.server
        db = s.stored()
        try:
            keys = ",".join("?" * len(self.devices))
            found = db.rows(f"""
                SELECT d.id, d.device_key, b.target_id FROM devices d
                JOIN device_bindings b ON b.device_id = d.id AND b.target_kind = 'house' AND b.valid_until IS NULL
                WHERE d.kind = 'electricity_meter' AND d.device_key NOT IN ({keys})
                AND NOT EXISTS (SELECT 1 FROM prepaid_plans p WHERE p.device_id = d.id AND p.created_by = 'system:demo')
                ORDER BY d.device_key LIMIT 1""", tuple(self.devices))
            if not found:
                raise SystemExit("FAIL the demo has no electricity meter outside the readings load")
            device, key, house = found[0]
            # Its register goes on rising from the highest reading stored, across starts.
            highest = int(db.rows("SELECT COALESCE(MAX(reading_milli), 0) FROM readings_all WHERE device_id = ?", (device,))[0][0])
            s.prepaid_kwh = max(getattr(s, "prepaid_kwh", 0), highest // 1000 + 1)
        finally:
            db.close()
        plan = {"house_id": house, "device_id": device, "register": "energy_total", "wallets": [{"purpose": "electricity"}],
                "tariff": {"kind": "metered", "unit": "kWh", "mode": "graduated", "accumulation": "monthly",
                           "tiers": [{"price": "1.0000"}]},
                "friendly_windows": [], "emergency_credit": {"amount": "0.00", "currency": "CNY"}}
        try:
            s.call("POST", "/api/v1/prepaid-plans", self.finance, plan)
        except urllib.error.HTTPError as error:
            if error.code != 409:  # 409: the plan of an earlier start
                raise
        return device, key, house

    def _cut_offs(self):
        # A prepaid meter driven to its cut-off and back: each reading uses 25 kWh at 1.00, so the wallet soon goes below
        # zero and the supply is to be closed; the engineer acknowledges the close command as the meter would; the desk
        # tops up 40.00 while the supply is to be closed, and the open command is acknowledged in turn.
        s = self.server
        device, key, house = self._prepaid_meter()
        count = 0
        while not self.stop_event.is_set():
            count += 1
            step = self.clock.next()
            measured = self.clock.time(step)
            s.prepaid_kwh += 25
            try:
                _, answer = s.call("POST", "/api/v1/readings", self.engineer,
                                   [{"device_key": key, "reading": f"{s.prepaid_kwh}.0", "measured_at": measured,
                                     "message_id": f"{self.prefix}-prepaid-{step}"}])
                items = answer.get("items", []) if isinstance(answer, dict) else answer
                with self.lock:
                    self.readings.extend(item["reading_id"] for item in items if item.get("status") == "accepted")
                self._acknowledge_commands(device)
                _, state = s.call("GET", f"/api/v1/houses/{house}/prepaid", self.finance)
                if all(plan["supply"]["desired"] == "open" for plan in state["plans"] if plan["device_id"] == device):
                    continue
                top_up = {"id": f"{self.prefix}-prepaid-topup-{count}", "purpose": "electricity",
                          "amount": {"amount": "40.00", "currency": "CNY"}, "channel": "cash"}
                status, _ = s.call("POST", f"/api/v1/houses/{house}/top-ups", self.finance, top_up)
                if status == 201:
                    with self.lock:
                        self.topups.append(top_up["id"])
                self._acknowledge_commands(device)
            except urllib.error.HTTPError as error:
                self.failures.append(f"cut-off load: HTTP {error.code} {error.read()[:200]!r}")
                return

    def _acknowledge_commands(self, device):
        # What the meter does when a command reaches it: carries it out and says so.
        _, page = self.server.call("GET", f"/api/v1/devices/{device}/commands", self.engineer)
        for command in page.get("items", []) if isinstance(page, dict) else page:
            if command["state"] in ("queued", "sent", "delivered"):
                status, _ = self.server.call("POST", f"/api/v1/devices/{device}/commands/ack", self.engineer,
                                             {"command_id": command["id"], "status": "succeeded"})
                if status == 200:
                    with self.lock:
                        self.supply_acks.append((command["id"], command["action"].removesuffix("d")))

    def _billing(self):
        # Last month's bill run of each community: bills, lines and their ledger postings, one transaction per chunk.
        # A run of a period already billed answers with what it did before (or nothing new).
        period = (datetime.date.today().replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
        for community in self.communities:
            if self.stop_event.is_set():
                return
            try:
                _, summary = self.server.call("POST", f"/api/v1/communities/{community}/bill-runs", self.finance,
                                              {"period": period, "preview": False}, timeout=120)
            except urllib.error.HTTPError as error:
                if error.code >= 500:
                    self.failures.append(f"bill run: HTTP {error.code}")
                return
            with self.lock:
                self.bill_runs.append((community, summary))
            self.billed.set()

    def _desk_payments(self):
        # Once a bill run is in, the front desk takes cash for open bills, one payment per bill; every fifth is refunded.
        while not self.billed.wait(timeout=0.2):
            if self.stop_event.is_set():
                return
        with self.lock:
            community = self.bill_runs[0][0]
        s = self.server
        try:
            _, shift = s.call("POST", "/api/v1/cashier-shifts", self.desk,
                              {"community_id": community, "opening_float": {"amount": "0.00", "currency": "CNY"}})
        except urllib.error.HTTPError as error:
            if error.code != 409:
                raise
            # The cashier's shift of an earlier start is still open (it may have been opened by a request whose answer
            # was lost to the crash): go on with it.
            db = s.stored()
            try:
                shift = {"id": db.column("SELECT id FROM cashier_shifts WHERE status = 'open' AND community_id = ?", (community,))[0]}
            finally:
                db.close()
        _, bills = s.call("GET", f"/api/v1/bills?community_id={community}&status=open&limit=200", self.finance)
        self._pay_at_desk(s, shift, bills["items"])
        if self.stop_event.is_set():
            return
        self.desk_done.set()
        # Every open bill is paid (after a dozen starts the bill runs find nothing new to bill): the desk goes on taking
        # cash for the houses' electricity wallets, so every start still adds desk payments and receipts.
        _, houses = s.call("GET", f"/api/v1/houses?community_id={community}&limit=8", self.finance)
        count = 0
        while not self.stop_event.is_set():
            house = houses["items"][count % len(houses["items"])]
            payment = {"id": f"{self.prefix}-cash-topup-{count}", "house_id": house["id"], "purpose": "top_up",
                       "wallet_purpose": "electricity", "channel": "cash", "amount": {"amount": "20.00", "currency": "CNY"}}
            count += 1
            status, _ = self._take_at_desk(s, shift, payment, "desk top-up")
            if status in (None, 409):
                if status == 409:
                    self.failures.append("desk top-up: HTTP 409 for a new payment id")
                return
            time.sleep(0.05)

    def _take_at_desk(self, s, shift, payment, what):
        """POSTs a desk payment and records its id once taken (201). Returns (status, answer): (409, None) when it
        clashes with what is recorded (a bill paid meanwhile); (None, None) after any other refusal, which is a failure
        of the load."""
        try:
            status, answer = s.call("POST", f"/api/v1/cashier-shifts/{shift['id']}/payments", self.desk, payment)
        except urllib.error.HTTPError as error:
            if error.code == 409:
                return 409, None
            self.failures.append(f"{what}: HTTP {error.code} {error.read()[:200]!r}")
            return None, None
        if status == 201:
            with self.lock:
                self.payments.append(payment["id"])
        return status, answer

    def _pay_at_desk(self, s, shift, bills):
        for index, bill in enumerate(bills):
            if self.stop_event.is_set():
                return
            payment = {"id": f"{self.prefix}-pay-{index}", "house_id": bill["house_id"], "purpose": "bills", "channel": "cash",
                       "amount": bill["total_amount"], "bill_ids": [bill["id"]]}
            status, answer = self._take_at_desk(s, shift, payment, "desk payment")
            if status is None:
                return
            if status != 201:  # 409: paid meanwhile (a payment of an earlier start): the next bill
                continue
            if index % 5 != 4:
                continue
            # Every fifth payment: the owner paid a fen too much, refunded in cash (the rules approve it themselves).
            refund = {"id": f"{self.prefix}-refund-{index}", "source": "payment", "payment_id": answer["payment_id"],
                      "amount": {"amount": "0.01", "currency": "CNY"}, "reason_code": "overpayment",
                      "reason": "paid a fen too much", "destination": "cash"}
            try:
                status, _ = s.call("POST", "/api/v1/refunds", self.desk, refund)
            except urllib.error.HTTPError as error:
                self.failures.append(f"refund: HTTP {error.code} {error.read()[:200]!r}")
                return
            if status == 201:
                with self.lock:
                    self.refunds.append(refund["id"])

    def wait_until_busy(self, seconds):
        """Waits until a bill run is answered and the desk has taken five payments, or found fewer bills open (or
        `seconds` pass)."""
        deadline = time.time() + seconds
        while time.time() < deadline and not self.failures:
            with self.lock:
                if (self.billed.is_set() or not self.bill) and (len(self.payments) >= 5 or self.desk_done.is_set() or not self.bill):
                    return True
            time.sleep(0.2)
        return False


class ReadingClock:
    """Ten-second steps after `start` for readings, rising across loads and starts. A week holds 60,480 steps; a
    100-kill run takes about 15,000 (at one step a minute, the 73rd kill of a gate run reached the present and every
    reading was refused as in the future)."""

    SECONDS = 10

    def __init__(self, start):
        self.start = start
        self.step = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.step += 1
            return self.step

    def time(self, step):
        """The measured_at of `step`, RFC 3339 in UTC."""
        return (self.start + datetime.timedelta(seconds=step * self.SECONDS)).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(server, loads):
    """The invariants after a restart, over everything `loads` had acknowledged. Returns a list of failures."""
    problems = []
    db = server.stored()
    try:
        readings = [reading for load in loads for reading in load.readings]
        stored = set()
        for first in range(0, len(readings), 500):
            part = readings[first:first + 500]
            stored.update(db.column(f"SELECT id FROM readings_all WHERE id IN ({','.join('?' * len(part))})", part))
        missing = [reading for reading in readings if reading not in stored]
        if missing:
            problems.append(f"{len(missing)} acknowledged readings are missing, e.g. {missing[:3]}")
        if len(set(readings)) != len(readings):
            problems.append("a reading id was acknowledged twice")
        # No bill is half-written: every stored bill has its lines adding up to its total, is posted, and every line of
        # it is in the journal once.
        unbalanced = db.scalar("""
            SELECT COUNT(*) FROM bills b
            WHERE b.total_amount <> (SELECT COALESCE(SUM(l.amount), 0) FROM bill_lines l WHERE l.bill_id = b.id)""")
        unposted = db.scalar("SELECT COUNT(*) FROM bills WHERE posted_at IS NULL")
        unjournaled = db.scalar("""
            SELECT COUNT(*) FROM bill_lines l JOIN bills b ON b.id = l.bill_id
            WHERE l.amount <> 0 AND (SELECT COUNT(*) FROM ledger_entries e WHERE e.transfer_id = 'bill-line:' || l.id) <> 1""")
        if unbalanced or unposted or unjournaled:
            problems.append(f"bills: {unbalanced} with lines not adding up, {unposted} unposted, {unjournaled} lines not journaled exactly once")
        # Each acknowledged item stored exactly once: one query per kind and 500 ids (a query per item made the checks
        # on PostgreSQL, one `psql` each, slower with every kill).
        def once(what, query, keys, stored=None):
            """`query` selects (key, count) for the ids in its `IN ({})`; `stored` are those ids when they differ from
            the keys the counts are reported under."""
            stored = keys if stored is None else stored
            counts = {}
            for first in range(0, len(keys), 500):
                part = [str(value) for value in stored[first:first + 500]]
                for key, count in db.rows(query.format(",".join("?" * len(part))), part):
                    counts[str(key)] = counts.get(str(key), 0) + int(count)
            for key in keys:
                if counts.get(str(key), 0) != 1:
                    problems.append(f"{what} {key} was acknowledged but is stored {counts.get(str(key), 0)} times")
                    return

        def every(name):
            return [item for load in loads for item in getattr(load, name)]

        once("desk payment", "SELECT channel_transaction_id, COUNT(*) FROM payments WHERE channel_transaction_id IN ({}) "
             "GROUP BY channel_transaction_id", [f"desk-{payment}" for payment in every("payments")])
        once("top-up (journal entries)", "SELECT transfer_id, COUNT(*) FROM ledger_entries WHERE transfer_id IN ({}) GROUP BY transfer_id",
             [f"topup:{top_up}" for top_up in every("topups")])
        once("transfer (journal entries)", "SELECT transfer_id, COUNT(*) FROM ledger_entries WHERE transfer_id IN ({}) GROUP BY transfer_id",
             every("transfers"))
        # A notification's payment is found by the channel that sent it and its transaction id.
        callbacks = every("callbacks")
        once("channel notification (payments)", "SELECT channel || ' ' || channel_transaction_id, COUNT(*) FROM payments "
             "WHERE channel_transaction_id IN ({}) GROUP BY channel, channel_transaction_id",
             [f"{channel} {transaction}" for channel, transaction in callbacks], [transaction for _, transaction in callbacks])
        once("refund", "SELECT request_id, COUNT(*) FROM refunds WHERE request_id IN ({}) GROUP BY request_id", every("refunds"))
        once("carried-out meter command", "SELECT id, COUNT(*) FROM device_commands WHERE state = 'succeeded' AND id IN ({}) GROUP BY id",
             [command for command, _ in every("supply_acks")])
        # Receipt numbers have no gaps: each company's run from 1 to its count.
        for company, count, lowest, highest in db.rows("SELECT company_id, COUNT(*), MIN(number), MAX(number) FROM receipts GROUP BY company_id"):
            if int(lowest) != 1 or int(highest) != int(count):
                problems.append(f"receipts of company {company}: {count} numbered {lowest}..{highest}")
        # Every desired supply state that differs from what the device last reported has a command on its way or done.
        unsent = db.scalar("""
            SELECT COUNT(*) FROM supply_states s
            WHERE s.desired <> COALESCE(s.reported, 'open') AND NOT EXISTS (
                SELECT 1 FROM device_commands c WHERE c.device_id = s.device_id
                AND c.action = CASE s.desired WHEN 'closed' THEN 'close' ELSE 'open' END)""")
        if unsent:
            problems.append(f"{unsent} desired supply states have no command")
    finally:
        db.close()
    ok, text = server.ledger_verify()
    if not ok:
        problems.append(f"ledger verify: {text}")
    return problems


# A mainland mobile number (the demo's people have them), a bearer token or session cookie value, a PEM private key.
PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def secrets_in_logs(server, loads):
    """What the server's logs must never contain: the sign-in tokens the load used, the demo password, phone
    numbers, private keys, the payment channels' keys. Returns a list of problems (file and what was found, never the
    secret itself)."""
    tokens = {token for load in loads for token in (getattr(load, name, None) for name in ("engineer", "finance", "desk")) if token}
    problems = []
    for path in sorted(glob.glob(os.path.join(server.work, "*.log"))):
        with open(path, encoding="utf-8", errors="replace") as log:
            text = log.read()
        name = os.path.basename(path)
        if any(token in text for token in tokens):
            problems.append(f"{name} contains a bearer token")
        # The demo's banner prints the demo password for the reader on purpose; nothing else may.
        banner = text.count(f"{PASSWORD}   (") + text.count(f'"password":"{PASSWORD}"')
        if text.count(PASSWORD) > banner:
            problems.append(f"{name} contains the password outside the demo banner")
        if PHONE.search(text):
            problems.append(f"{name} contains a phone number")
        if PEM.search(text):
            problems.append(f"{name} contains a private key")
        if any(secret in text for secret in server.channels.secrets):
            problems.append(f"{name} contains a payment channel's key")
    return problems

