"""The webhook dispatcher: sends the deliveries the outbox holds (bank/webhooks.py), in the
background of each server process, never in a request's way.

It looks for due deliveries when its process commits some (woken at once), at the time the next
retry is due, and every WEBHOOK_POLL_SECONDS for those another process stored. It takes a batch
(leased, so that other processes' dispatchers leave it), sends each one signed to the Standard
Webhooks specification, and records how each went. At least once: a delivery is marked
delivered only after its receiver answered 2xx, so a process killed in between sends it again
after its lease; receivers de-duplicate on webhook-id.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time

import aiohttp
from standardwebhooks.webhooks import Webhook

from bank import webhooks
from bank.clock import utcnow
from bank.webhooks import Attempt, DueDelivery, RetryPolicy
from constants import API_TITLE, API_VERSION
from db import Database
from errors import Busy
from settings import Settings

logger = logging.getLogger(__name__)

# Deliveries taken at once, and batches in flight at once: a slow receiver holds up its batch
# only, not the others.
BATCH_SIZE = 50
BATCHES_IN_FLIGHT = 4
# While batches are being sent, claims come at most this often: under a burst of writes each
# claim takes what gathered meanwhile, instead of one delivery per commit (two more writes
# each). An idle sender claims at once.
CLAIM_INTERVAL = 0.025
USER_AGENT = f"{API_TITLE.replace(' ', '')}-Webhooks/{API_VERSION}"


class WebhookDispatcher:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        self.poll_seconds = settings.WEBHOOK_POLL_SECONDS
        self.policy = RetryPolicy(
            max_attempts=settings.WEBHOOK_MAX_ATTEMPTS,
            base_seconds=settings.WEBHOOK_RETRY_BASE_SECONDS,
            max_seconds=settings.WEBHOOK_RETRY_MAX_SECONDS,
        )
        # A lease outlasts an attempt: the sender has its answer, or its timeout, before then.
        self.lease = dt.timedelta(seconds=self.timeout * 2 + 5)
        self.rng = random.Random()
        self._wake = asyncio.Event()
        self._batches: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._claimed_at = 0.0
        # Woken by a commit that stored deliveries, or by a finished batch: claim without
        # looking first. A timer looks first (a read), then claims (a write) only if due.
        self._woken = False
        self._saturated = False
        self._client: aiohttp.ClientSession | None = None

    def wake(self) -> None:
        """From any thread, after a commit that stored deliveries: send them now."""
        if self._loop is not None:
            # A loop closed under a dispatcher not yet stopped: the write has committed, and
            # its deliveries wait for the next start; no error for the writer.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._woken_now)

    def _woken_now(self) -> None:
        self._woken = True
        self._wake.set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # aiohttp: a tenth of httpx's CPU a request (95 µs against 1 ms here), and the sending
        # shares its process with the requests. No proxies from the environment (its
        # default), no redirects (below): a delivery goes where it was told.
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        webhooks.add_waker(self.wake)
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Stop sending. Deliveries in flight stay leased, and are sent again after their lease."""
        webhooks.remove_waker(self.wake)
        tasks = [task for task in (self._task, *self._batches) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()

    async def _run(self) -> None:
        while True:
            wait = self.poll_seconds
            try:
                wait = await self._send_what_is_due()
            except Busy:
                logger.info("Webhook dispatcher: the database is busy; looking again shortly")
            except Exception:
                logger.exception("Webhook dispatcher: looking for due deliveries failed")
            try:
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.001))
            except TimeoutError:
                pass

    async def _send_what_is_due(self) -> float:
        """Take what is due and start sending it, a batch at a time while batches may start;
        the seconds until the next delivery is due (at most the poll interval)."""
        woken, self._woken = self._woken, False
        self._wake.clear()
        if not woken:  # a timer, not a commit or a finished batch: is anything due?
            wait = await self._until_due()
            if wait > 0:
                return wait
        while len(self._batches) < BATCHES_IN_FLIGHT:
            since = time.monotonic() - self._claimed_at
            if self._batches and since < CLAIM_INTERVAL:  # busy: let more gather
                await asyncio.sleep(CLAIM_INTERVAL - since)
            self._claimed_at = time.monotonic()
            now = utcnow()
            batch = await self.database.write(
                webhooks.claim_due, now=now, lease_until=now + self.lease, limit=BATCH_SIZE
            )
            if batch:
                self._send_batch(batch)
            if len(batch) < BATCH_SIZE:  # nothing more due now
                return await self._until_due()
        self._saturated = True  # the first batch to finish wakes the loop
        return self.poll_seconds

    async def _until_due(self) -> float:
        due = await self.database.read_rows(webhooks.NEXT_DUE)
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, (due - utcnow()).total_seconds())

    def _send_batch(self, batch: list[DueDelivery]) -> None:
        task = asyncio.create_task(self._deliver(batch))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _deliver(self, batch: list[DueDelivery]) -> None:
        retrying = True  # unless recorded otherwise
        try:
            attempts = await asyncio.gather(*(self._send(delivery) for delivery in batch))
            await self.database.write(
                webhooks.record_attempts,
                attempts=list(attempts),
                now=utcnow(),
                policy=self.policy,
                rng=self.rng,
            )
            delivered = sum(attempt.error is None for attempt in attempts)
            retrying = delivered < len(attempts)
            logger.info("Webhooks: %d of %d deliveries delivered", delivered, len(attempts))
        except asyncio.CancelledError:
            raise
        except Exception:
            # Left leased: due again when the lease runs out.
            logger.exception("Webhook dispatcher: recording a batch of deliveries failed")
        finally:
            # More may be due: this batch was full, or others waited for it to finish.
            if len(batch) == BATCH_SIZE or self._saturated:
                self._saturated = False
                self._woken_now()
            elif retrying:  # its next attempts may come before the loop would look
                self._wake.set()

    async def _send(self, delivery: DueDelivery) -> Attempt:
        """One attempt: POST the payload with the Standard Webhooks headers, signed now."""
        timestamp = int(time.time())
        signature = Webhook(delivery.secret).sign(
            delivery.event_id, dt.datetime.fromtimestamp(timestamp, dt.UTC), delivery.payload
        )
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }

        def failed(error: str, status_code: int | None = None) -> Attempt:
            return Attempt(delivery, status_code, error)

        assert self._client is not None, "started"
        try:
            # The receiver's body is not read: it is not ours to hold.
            async with self._client.post(
                delivery.url,
                data=delivery.payload.encode(),
                headers=headers,
                allow_redirects=False,
            ) as response:
                code = response.status
        except TimeoutError:
            return failed(f"No answer within {self.timeout:g} s")
        except aiohttp.InvalidURL:
            return failed("The URL cannot be sent to")
        except aiohttp.ClientConnectorError:
            return failed("Could not connect to the receiver")
        except (aiohttp.ClientError, OSError, ValueError):
            return failed("The receiver's answer was not valid HTTP, or the connection broke")
        except Exception:  # one delivery's surprise must not leave its batch unrecorded
            logger.exception("Webhook dispatcher: sending a delivery failed unexpectedly")
            return failed("The request to the receiver failed")
        if 200 <= code < 300:
            return Attempt(delivery, code, None)
        return failed(f"The receiver answered HTTP {code}", code)
