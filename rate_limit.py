"""Rate limits (RATE_LIMIT, off by default): per API key where BANK_API_KEY is set, or else per
client address.

The `limits` library counts, in fixed windows held in this process's memory (each worker of a
multi-process server counts on its own). Every answer carries the IETF RateLimit-Policy and
RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10); a request over a limit is 429 with
Retry-After, and runs nothing. The health probe and the docs are not limited.
"""

import math
import time

from fastapi.responses import JSONResponse
from limits import RateLimitItem
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from constants import RATE_LIMITED
from middleware import PUBLIC_PATHS, PUBLIC_PREFIXES, caller_of


def policy_name(item: RateLimitItem) -> str:
    """A policy's name in the fields: its quota and window, such as 100-per-1s."""
    return f"{item.amount}-per-{item.get_expiry()}s"


class RateLimitMiddleware:
    """Count each request against every limit; over one, 429 with Retry-After."""

    def __init__(self, app: ASGIApp, *, limits: list[RateLimitItem], by_key: bool) -> None:
        self.app = app
        self.limits = limits
        # Per API key only where one is set: AccessMiddleware, outside, has checked the key
        # sent. Without one, a made-up key per request would be a quota per request.
        self.by_key = by_key
        self.limiter = FixedWindowRateLimiter(MemoryStorage())
        self.policy = ", ".join(
            f'"{policy_name(item)}";q={item.amount};w={item.get_expiry()}' for item in limits
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        who = caller_of(scope["headers"], scope.get("client"), by_key=self.by_key)
        over = [item for item in self.limits if not self.limiter.test(item, who)]
        if not over:
            for item in self.limits:
                self.limiter.hit(item, who)
        fields = [(b"ratelimit-policy", self.policy), (b"ratelimit", self._state(who))]
        if over:
            # The limit that frees last says when to come back.
            waits = [
                (math.ceil(self.limiter.get_window_stats(item, who).reset_time - time.time()), item)
                for item in over
            ]
            wait, item = max(waits, key=lambda pair: pair[0])
            wait = max(1, wait)
            detail = RATE_LIMITED.format(limit=item.amount, per=_per(item), retry_after=wait)
            headers = {"Retry-After": str(wait)} | {n.decode(): v.decode() for n, v in fields}
            await JSONResponse({"detail": detail}, 429, headers=headers)(scope, receive, send)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *fields]
            await send(message)

        await self.app(scope, receive, send_with_fields)

    def _state(self, who: str) -> bytes:
        """The RateLimit field: what remains of each policy, and when it is whole again."""
        now = time.time()
        parts = []
        for item in self.limits:
            stats = self.limiter.get_window_stats(item, who)
            reset = max(0, math.ceil(stats.reset_time - now))
            parts.append(f'"{policy_name(item)}";r={stats.remaining};t={reset}')
        return ", ".join(parts).encode()


def _per(item: RateLimitItem) -> str:
    """'per second', 'per 10 seconds': the window in words."""
    name = item.GRANULARITY.name
    return f"per {name}" if item.multiples == 1 else f"per {item.multiples} {name}s"
