"""FastAPI app: customer cards, lookup, source records, erasure, analyst SQL, review queue, audit.

Every API call needs an API key (header `X-API-Key`); the web pages under /ui/ are static and ask for
one. Bad input gets a 4xx naming the problem; a warehouse held by a running sync gets a 503 with
Retry-After, never a 500.

(No `from __future__ import annotations` here: FastAPI must see the dependency objects of the
closures in create_app, not strings it cannot resolve.)
"""

import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import orjson
from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request, Security
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route as StarletteRoute
from pydantic import BaseModel, Field

from hub.serve.state import ServeSettings, ServingState
from warehouse.lookup import LookupInputError, Match, customer_records, plain_record
from warehouse.query import QueryTimeout, run_query
from warehouse.security import (
    CustomerNotFound, EncryptionSetupError, ErasureConfigError, HashKeyMissing, PermissionDenied, Principal,
    QueryRejected, WarehouseBusy, WarehouseMissing, authenticate, erase_customer, mask_record, read_audit,
    warehouse_session, write_transaction,
)

STATIC = Path(__file__).parent / "static"
CUSTOMER_ID = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$",
                                       description="customer id, e.g. C1a2b3c4d5e6f708")]
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key issued by `hub keys create`")


class ErasureRequest(BaseModel):
    customer_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    reason: str | None = Field(default=None, max_length=500)


class QueryRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=20_000)
    limit: int = Field(default=200, ge=1, le=5000)


class DecisionRequest(BaseModel):
    pair_id: str = Field(min_length=1, max_length=64)
    decision: Literal["match", "non_match", "skip"]
    note: str | None = Field(default=None, max_length=1000)


def create_app(settings: ServeSettings, start_background: bool = True) -> FastAPI:
    state = ServingState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_background:
            state.start()
        else:
            state.refresh()
        yield
        state.stop()

    app = FastAPI(title="Customer Hub", version="0.1.0", lifespan=lifespan,
                  description="Look up the unified customer, read the customer-360 card, erase on request.")
    app.state.hub = state
    _install_error_handlers(app)

    # async: a sync dependency would cost every request a hop through the thread pool
    async def caller(key: Annotated[str | None, Security(api_key_header)]) -> Principal:
        if not key:
            raise HTTPException(401, "missing API key: send it in the X-API-Key header",
                                headers={"WWW-Authenticate": "X-API-Key"})
        who = authenticate(state.keys, key)
        if who is None:
            if state.snapshot is None and state.last_error:
                raise HTTPException(503, f"warehouse not loaded yet ({state.last_error})",
                                    headers={"Retry-After": "2"})
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "X-API-Key"})
        return who

    def snapshot():
        if state.snapshot is None:
            raise HTTPException(503, f"warehouse not loaded yet: {state.last_error or 'loading'}",
                                headers={"Retry-After": "2"})
        return state.snapshot

    def shown(who: Principal, record: dict[str, Any]) -> dict[str, Any]:
        return mask_record(record) if who.masked else record

    def card_for(who: Principal, snap, customer_id: str) -> Any:
        """The card for a response: its stored JSON embedded as is, or masked for roles that see masked data."""
        if who.masked:
            return mask_record(snap.card(customer_id) or {})
        return orjson.Fragment(snap.card_json(customer_id) or "{}")

    @app.get("/health", tags=["service"])
    def health() -> dict:
        snap = state.snapshot
        return {"status": "ok" if snap is not None else "unavailable",
                "customers": snap.size if snap is not None else 0,
                "loaded_at": snap.loaded_at if snap is not None else None, "error": state.last_error}

    @app.get("/customers/{customer_id}", tags=["customers"], responses={308: {"description": "retired id"},
                                                                          404: {"description": "unknown id"}})
    async def get_customer(customer_id: CUSTOMER_ID, who: Annotated[Principal, Depends(caller)]):
        who.require("read_customer")
        snap = snapshot()
        final = snap.resolve(customer_id)
        if final != customer_id:
            return RedirectResponse(f"/customers/{final}", status_code=308)
        if snap.card_json(customer_id) is None:
            raise HTTPException(404, f"no customer {customer_id}")
        state.audit.record(who, "read_customer", [customer_id])
        return fast_json(card_for(who, snap, customer_id))

    @app.get("/customers/{customer_id}/records", tags=["customers"],
             responses={308: {"description": "retired id"}, 404: {"description": "unknown id"}})
    def get_records(customer_id: CUSTOMER_ID, who: Annotated[Principal, Depends(caller)]):
        who.require("read_records")
        final = snapshot().resolve(customer_id)
        if final != customer_id:
            return RedirectResponse(f"/customers/{final}/records", status_code=308)
        with warehouse_session(settings.warehouse, read_only=True, wait_seconds=settings.busy_wait_seconds) as con:
            found = customer_records(con, customer_id)
        if found is None:
            raise HTTPException(404, f"no customer {customer_id}")
        state.audit.record(who, "read_records", [customer_id], detail=f"{len(found['records'])} records")
        found["records"] = [shown(who, r) for r in found["records"]]
        return found

    # The screen pop's hot path reads its key and parameters straight from the request: FastAPI's
    # per-parameter machinery costs more CPU than the lookup itself. LOOKUP_OPENAPI documents the same
    # contract for /docs and for the schemathesis fuzz test.
    @app.get("/lookup", tags=["customers"], openapi_extra=LOOKUP_OPENAPI,
             responses={400: {"description": "not exactly one search, or not a phone/email/name"},
                        401: {"description": "missing or unknown API key"}, 422: {"description": "bad limit"}})
    async def lookup(request: Request):
        who = await caller(request.headers.get("x-api-key"))
        who.require("lookup")
        kind, value, limit = _lookup_params(request)
        snap = snapshot()
        matches: list[Match] = {"phone": snap.by_phone, "email": snap.by_email}.get(
            kind, lambda v: snap.by_name(v, limit))(value)[:limit]
        state.audit.record(who, "lookup", [m.customer_id for m in matches] or [None], detail=f"by {kind}")
        return fast_json({"kind": kind, "count": len(matches),
                          "matches": [{"customer_id": m.customer_id, "score": m.score,
                                       "card": card_for(who, snap, m.customer_id)} for m in matches]})

    # The same endpoint as a plain Starlette route, tried first: FastAPI's dependency solving and the
    # walk past every other route cost about as much CPU as a phone lookup. The FastAPI route above
    # stays for /docs and the OpenAPI spec; errors go through the same exception handlers.
    app.router.routes.insert(0, StarletteRoute("/lookup", lookup, methods=["GET"], include_in_schema=False))

    @app.post("/erasure", tags=["privacy"], responses={404: {"description": "unknown id"}})
    def erasure(body: ErasureRequest, who: Annotated[Principal, Depends(caller)]):
        who.require("erase")
        raw_tables = settings.raw_tables() if settings.raw_tables else {}
        with write_transaction(settings.warehouse, wait_seconds=settings.busy_wait_seconds) as con:
            report = erase_customer(con, body.customer_id, raw_tables)
        state.audit.record(who, "erase", report.customer_ids,
                           detail=json.dumps({"erasure_id": report.erasure_id, "rows_deleted": report.rows_deleted,
                                              "reason": body.reason}))
        state.refresh(force=True)
        return report.as_dict()

    @app.post("/query", tags=["analytics"])
    def query(body: QueryRequest, who: Annotated[Principal, Depends(caller)]):
        who.require("query")
        try:
            table = run_query(settings.warehouse, body.sql, who, max_rows=body.limit,
                              timeout_seconds=settings.query_timeout_seconds)
        except (WarehouseBusy, WarehouseMissing, QueryRejected, PermissionDenied):
            raise
        except duckdb.Error as exc:  # the analyst's SQL failed: their error to fix, not ours
            raise HTTPException(400, f"query failed: {exc}") from exc
        state.audit.record(who, "query", [None], detail=body.sql[:2000])
        return {"columns": table.column_names, "rows": [plain_record(r) for r in table.to_pylist()]}

    @app.get("/review/queue", tags=["review"])
    def review_queue(who: Annotated[Principal, Depends(caller)], limit: Annotated[int, Query(ge=1, le=200)] = 20):
        who.require("review")
        from warehouse.review_store import load_review_queue

        with warehouse_session(settings.warehouse, read_only=True, wait_seconds=settings.busy_wait_seconds) as con:
            frame = load_review_queue(con, limit=limit)
        state.audit.record(who, "read_review_queue", [None], detail=f"{len(frame)} pairs")
        rows = json.loads(frame.to_json(orient="records", date_format="iso"))
        return {"count": len(rows), "pairs": rows}

    @app.post("/review/decisions", tags=["review"], responses={404: {"description": "pair not in the queue"}})
    def review_decision(body: DecisionRequest, who: Annotated[Principal, Depends(caller)]):
        who.require("review")
        from warehouse.review_store import record_decision

        with write_transaction(settings.warehouse, wait_seconds=settings.busy_wait_seconds) as con:
            pair = _queued_pair(con, body.pair_id)
            if pair is None:
                raise HTTPException(404, f"pair {body.pair_id} is not in the review queue")
            row = record_decision(con, pair, body.decision, reviewer=who.name, note=body.note)
        state.audit.record(who, "review_decision", [None], detail=f"{body.pair_id}: {body.decision}")
        return plain_record(row)

    @app.get("/audit", tags=["privacy"])
    def audit(who: Annotated[Principal, Depends(caller)],
              customer_id: Annotated[str | None, Query(max_length=64)] = None,
              actor: Annotated[str | None, Query(max_length=200)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100):
        who.require("audit")
        state.flush_audit()
        with warehouse_session(settings.warehouse, read_only=True, wait_seconds=settings.busy_wait_seconds) as con:
            frame = read_audit(con, customer_id=customer_id, actor=actor, limit=limit)
        return {"count": len(frame), "events": json.loads(frame.to_json(orient="records", date_format="iso"))}

    @app.get("/", include_in_schema=False)
    def index():
        return RedirectResponse("/ui/", status_code=307)

    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")
    return app


LOOKUP_LIMITS = {"phone": 64, "email": 254, "name": 200}
LOOKUP_OPENAPI = {
    "parameters": [
        *({"name": field, "in": "query", "required": False, "schema": {"type": "string", "maxLength": size},
           "description": f"search by {field} (give exactly one of phone, email, name)"}
          for field, size in LOOKUP_LIMITS.items()),
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}},
    ],
    "security": [{"APIKeyHeader": []}],
}


def _lookup_params(request: Request) -> tuple[str, str, int]:
    """(kind, value, limit) from the query string, with the limits LOOKUP_OPENAPI documents."""
    query = request.query_params
    given = {}
    for field, size in LOOKUP_LIMITS.items():
        value = query.get(field)
        if value is not None and len(value) > size:
            raise HTTPException(422, f"{field} is longer than {size} characters")
        if value and value.strip():
            given[field] = value
    raw_limit = query.get("limit", "10")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise HTTPException(422, f"limit must be an integer, got {raw_limit[:20]!r}") from None
    if not 1 <= limit <= 50:
        raise HTTPException(422, "limit must be between 1 and 50")
    if len(given) != 1:
        raise HTTPException(400, "give exactly one of phone, email or name")
    kind, value = next(iter(given.items()))
    return kind, value, limit


def fast_json(payload: Any) -> Response:
    """Serialise plain dicts with orjson, skipping FastAPI's generic encoder on the hot path."""
    return Response(orjson.dumps(payload, default=str), media_type="application/json")


def _queued_pair(con: duckdb.DuckDBPyConnection, pair_id: str) -> dict | None:
    exists = con.execute("SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database() "
                         "AND table_schema = 'identity' AND table_name = 'review_queue'").fetchall()
    if not exists:
        return None
    rows = con.execute("SELECT silo_l, source_record_id_l, silo_r, source_record_id_r FROM identity.review_queue "
                       "WHERE pair_id = ? LIMIT 1", [pair_id]).fetchall()
    if not rows:
        return None
    return dict(zip(("silo_l", "source_record_id_l", "silo_r", "source_record_id_r"), rows[0]))


def _install_error_handlers(app: FastAPI) -> None:
    def handler(status: int, retry: bool = False):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            headers = {"Retry-After": "2"} if retry else None
            return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)
        return handle

    for exc_type, status, retry in (
        (LookupInputError, 400, False), (QueryRejected, 400, False), (QueryTimeout, 408, False), (PermissionDenied, 403, False),
        (CustomerNotFound, 404, False), (ErasureConfigError, 409, False), (WarehouseBusy, 503, True),
        (WarehouseMissing, 503, True), (EncryptionSetupError, 503, False), (HashKeyMissing, 503, False),
        (duckdb.ParserException, 400, False), (duckdb.BinderException, 400, False),
        (duckdb.CatalogException, 400, False), (duckdb.ConversionException, 400, False),
        (duckdb.InvalidInputException, 400, False), (duckdb.OutOfRangeException, 400, False),
    ):
        app.add_exception_handler(exc_type, handler(status, retry))
