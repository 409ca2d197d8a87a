"""The benchmark's baseline: the same lookup API served WITHOUT Kafka (bench only, never deployed).

    BENCH_DIRECT_STORE_URL=grpc://… BENCH_DIRECT_STORE_TOKEN=… BENCH_DIRECT_API_KEY=… \
    BENCH_DIRECT_PORT=… python bench/direct_app.py

It does what the gateway and the responder do together, minus the two Kafka hops: check the API
key and the customer id, look the customer up in the store (one Flight call per request, via
:class:`store.AsyncStoreClient`), turn the Arrow rows into the same JSON with the
responder's own :class:`JourneyIndex`, and answer 200 or 404. Same server (uvicorn, uvloop,
httptools, no access log) as the gateway, so the ratio of the two paths is the cost of the DMZ.
"""

from __future__ import annotations

import hmac
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from journeys.contract import StatusFilter
from journeys.schema import ID_MAX_LENGTH, ID_RE
from responder.replies import JourneyIndex
from store import AsyncStoreClient, StoreError, open_async_store


class DirectSettings(BaseSettings):
    """Where the baseline listens and which store it reads (env ``BENCH_DIRECT_*``)."""

    model_config = SettingsConfigDict(env_prefix="BENCH_DIRECT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    store_url: str
    store_token: SecretStr
    api_key: SecretStr
    store_workers: int = 4


def _error(status_code: int, detail: str) -> Response:
    return Response(orjson.dumps({"detail": detail}), status_code, media_type="application/json")


def create_app(settings: DirectSettings) -> FastAPI:
    """The baseline app: one route, the gateway's URL and answers."""
    api_key = settings.api_key.get_secret_value().encode()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        token = settings.store_token.get_secret_value()
        async with open_async_store(
            settings.store_url, token, max_workers=settings.store_workers
        ) as store:
            app.state.store = store
            yield

    app = FastAPI(title="direct store baseline (bench only)", lifespan=lifespan)
    statuses = {member.value: member for member in StatusFilter}

    # A plain route with the gateway fast path's checks (key, id pattern, status filter), not
    # FastAPI dependencies: the gateway's LookupRoute skips those too, so the two paths pay the
    # same HTTP-layer cost and their ratio stays the cost of the DMZ.
    async def journeys(request: Request) -> Response:
        supplied = request.headers.get("x-api-key", "")
        if not supplied or not hmac.compare_digest(supplied.encode(), api_key):
            return _error(401, "invalid API key")
        customer_id = request.path_params["customer_id"]
        status = statuses.get(request.query_params.get("status", StatusFilter.OPEN.value))
        if len(customer_id) > ID_MAX_LENGTH or not ID_RE.fullmatch(customer_id) or not status:
            return _error(422, "malformed customer id or status")
        store: AsyncStoreClient = request.app.state.store
        try:
            table = await store.lookup([customer_id], "all")
        except StoreError:
            return _error(503, "store unavailable")
        found = JourneyIndex.from_table(table).journeys(customer_id, status)
        if not found:
            return _error(404, f"customer {customer_id} has no journeys")
        body = {"customer_id": customer_id, "status": status, "journeys": found}
        return Response(orjson.dumps(body), media_type="application/json")

    app.router.add_route("/v1/customers/{customer_id}/journeys", journeys, methods=["GET"])

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    """Serve the baseline with the gateway's server settings."""
    import uvicorn

    settings = DirectSettings()  # required fields come from the environment
    from cli.gateway_commands import SERVER_OPTIONS

    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, **SERVER_OPTIONS,
        log_level="warning",
    )  # fmt: skip


if __name__ == "__main__":
    main()
