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
import datetime as dt
import logging
import random
import time

import httpx
from standardwebhooks.webhooks import Webhook

from bank import webhooks
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
# Claims at most this often: a lone event goes at once, while under a burst of writes each claim
# takes what gathered meanwhile, instead of one delivery per commit (two more writes each).
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
        # No proxies from the environment, no redirects: a delivery goes where it was told.
        self._client = httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False
        )

    def wake(self) -> None:
        """From any thread: look for due deliveries now."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        webhooks.add_waker(self.wake)
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Stop sending. Deliveries in flight stay leased, and are sent again after their lease."""
        webhooks.remove_waker(self.wake)
        tasks = [task for task in (self._task, *self._batches) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            wait = self.poll_seconds
            try:
                due = await self.database.read(webhooks.next_due)
                now = webhooks.utcnow()
                if due is not None and due <= now:
                    since = time.monotonic() - self._claimed_at
                    if since < CLAIM_INTERVAL:
                        await asyncio.sleep(CLAIM_INTERVAL - since)
                        continue
                    if len(self._batches) < BATCHES_IN_FLIGHT:
                        self._claimed_at = time.monotonic()
                        batch = await self.database.write(
                            webhooks.claim_due,
                            now=now,
                            lease_until=now + self.lease,
                            limit=BATCH_SIZE,
                        )
                        if batch:
                            self._send_batch(batch)
                            continue  # more may be due
                    # else a batch that finishes wakes the loop
                elif due is not None:
                    wait = min(wait, (due - now).total_seconds())
            except Busy:
                logger.info("Webhook dispatcher: the database is busy; looking again shortly")
            except Exception:
                logger.exception("Webhook dispatcher: looking for due deliveries failed")
            try:
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.001))
            except TimeoutError:
                pass

    def _send_batch(self, batch: list[DueDelivery]) -> None:
        task = asyncio.create_task(self._deliver(batch))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _deliver(self, batch: list[DueDelivery]) -> None:
        try:
            attempts = await asyncio.gather(*(self._send(delivery) for delivery in batch))
            await self.database.write(
                webhooks.record_attempts,
                attempts=list(attempts),
                now=webhooks.utcnow(),
                policy=self.policy,
                rng=self.rng,
            )
            delivered = sum(attempt.error is None for attempt in attempts)
            logger.info("Webhooks: %d of %d deliveries delivered", delivered, len(attempts))
        except asyncio.CancelledError:
            raise
        except Exception:
            # Left leased: due again when the lease runs out.
            logger.exception("Webhook dispatcher: recording a batch of deliveries failed")
        finally:
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
            return Attempt(delivery.id, delivery.attempts, status_code, error)

        try:
            # Streamed and not read: the receiver's body is not ours to hold.
            async with self._client.stream(
                "POST", delivery.url, content=delivery.payload.encode(), headers=headers
            ) as response:
                code = response.status_code
        except httpx.TimeoutException:
            return failed(f"No answer within {self.timeout:g} s")
        except httpx.ConnectError:
            return failed("Could not connect to the receiver")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            return failed("The URL cannot be sent to")
        except (httpx.HTTPError, OSError, ValueError):
            return failed("The receiver's answer was not valid HTTP, or the connection broke")
        if 200 <= code < 300:
            return Attempt(delivery.id, delivery.attempts, code, None)
        return failed(f"The receiver answered HTTP {code}", code)
