"""The starter silo file of a REST API (`hub silos new rest NAME --base-url URL --endpoint PATH`):
one page of the endpoint is fetched and read for where its records are (data_selector), how it
pages (a Link header, a next link or a cursor in the body, a page count, a total with offsets),
which field identifies a record, which one changes with it, and a guessed mapping to review.

Pagination is read from what real APIs send: `links.next` (JSON:API), `next` (Django REST
framework), `@odata.nextLink` (Microsoft Dynamics and Graph), `nextRecordsUrl` (Salesforce),
`paging.next.link` (HubSpot), `meta.next_cursor` / `response_metadata.next_cursor` (Slack),
`nextPageToken` (Google), `meta.total_pages`, `total` with `offset`, and the `Link` header (GitHub).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sources.starter import (_country_line, _mapping_lines, _yaml_columns, _yaml_text, column_key, guess_country,
                             guess_cursor, guess_primary_key, guess_starter_mapping, silo_header)

PROBE_TIMEOUT = 30  # seconds for the one request the starter makes
# body keys (compared like column names: no case, no separators) and what they say about paging
_NEXT_LINKS = frozenset({"next", "nextpage", "nexturl", "nextlink", "nextpageurl", "odatanextlink",
                         "nextrecordsurl", "link", "href"})
_CURSORS = frozenset({"nextcursor", "cursor", "nextpagetoken", "pagetoken", "after", "endcursor", "continuationtoken",
                      "nexttoken", "nextpagecursor", "scrollid"})
_PAGE_COUNTS = frozenset({"totalpages", "pages", "pagecount", "lastpage", "numpages"})
_TOTALS = frozenset({"total", "totalcount", "totalresults", "totalrecords", "totalitems", "count", "totalsize"})
_PAGING_PARENTS = frozenset({"links", "link", "paging", "pagination", "meta", "page", "cursor", "next",
                             "responsemetadata", "metadata", "info"})
_PAGE_PARAMS = ("page", "pagenumber", "pageno", "p")
_LIMIT_PARAMS = ("limit", "perpage", "pagesize", "size", "count", "top")  # compared like column names


# the names APIs give their "changed since" filter, tried in this order with a time in the future
SINCE_PARAMS = ("updated_since", "updated_after", "modified_since", "modified_after", "changed_since", "since",
                "updatedSince", "updatedAfter", "modifiedSince", "lastModifiedSince")
_FUTURE = {"iso": "2999-01-01T00:00:00Z", "unix": "32503680000"}


@dataclass
class RestSample:
    records: list[dict]
    data_selector: str | None  # dotted path to the records; None: the body is the list
    paginator: dict[str, Any]
    params: dict[str, str]  # the query parameters the probe was sent with (from the endpoint given)
    url: str = ""
    headers: dict[str, str] | None = None  # the probe's, token included: kept in memory only


def introspect_rest(base_url: str, endpoint: str, token_env: str | None = None,
                    key_header: str | None = None) -> RestSample:
    """GET base_url/endpoint once and read the page. The token in the variable `token_env`, if given,
    is sent as a bearer token, or as an API key in the header `key_header` ('X-API-Key')."""
    import requests

    headers = {"Accept": "application/json"}
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ValueError(f"environment variable {token_env} is not set (the API token for the probe)")
        headers.update({key_header: token} if key_header else {"Authorization": f"Bearer {token}"})
    url = f"{base_url.rstrip('/')}/{endpoint.lstrip('/')}"
    try:
        response = requests.get(url, headers=headers, timeout=PROBE_TIMEOUT)
    except requests.RequestException as exc:
        raise OSError(f"{url}: no answer ({type(exc).__name__}: {exc}); is the API reachable?") from None
    if response.status_code in (401, 403):
        raise ValueError(f"{url}: {response.status_code} — the API refused the probe; give its token with "
                         "--token-env VARIABLE (and --key-header NAME where it takes an API key header)")
    if not response.ok:
        raise ValueError(f"{url}: HTTP {response.status_code} {response.reason}")
    try:
        body = response.json()
    except ValueError:
        raise ValueError(f"{url}: the answer is not JSON ({response.headers.get('Content-Type', 'no content type')})") from None
    selector, records = records_path(body)
    if not records:
        raise ValueError(f"{url}: no list of records found in the answer (top-level keys: "
                         f"{', '.join(body) if isinstance(body, dict) else type(body).__name__})")
    params = dict(parse_qsl(urlsplit(endpoint).query))
    paginator = guess_paginator(body, response.headers.get("Link"), selector, params)
    return RestSample(records, selector, paginator, params, url, headers)


def since_param(sample: RestSample, cursor_value: Any) -> str | None:
    """The query parameter the API filters changed records by: the first of SINCE_PARAMS that, set to
    a time in the future (ISO, or Unix seconds where the cursor field holds numbers), empties the page.
    An API that ignores or refuses a parameter answers as before or fails: that one is not it."""
    import requests

    future = _FUTURE["unix" if str(cursor_value).isdigit() else "iso"]
    for param in SINCE_PARAMS:
        try:
            response = requests.get(sample.url, headers=sample.headers, params={param: future}, timeout=PROBE_TIMEOUT)
            body = response.json() if response.ok else None
        except (requests.RequestException, ValueError):
            continue
        if body is not None and _records_at(body, sample.data_selector) == []:
            return param
    return None


def _records_at(body: Any, selector: str | None) -> Any:
    for key in selector.split(".") if selector else []:
        body = body.get(key) if isinstance(body, dict) else None
    return body



def records_path(body: Any, path: str = "") -> tuple[str | None, list[dict]]:
    """(the dotted path of the list of objects in a response, that list): the body itself when it is
    one, else its one list of objects, looked for through objects that hold one ({"data": {"items": [...]}})."""
    if isinstance(body, list):
        return (path or None), [r for r in body if isinstance(r, dict)]
    if not isinstance(body, dict):
        return None, []
    lists = [k for k, v in body.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
    if len(lists) > 1:  # {'data': [...], 'included': [...]}: the records are the longer list
        lists.sort(key=lambda k: -len(body[k]))
    if lists:
        return f"{path}{lists[0]}", body[lists[0]]
    for key, value in body.items():
        if isinstance(value, dict):
            found = records_path(value, f"{path}{key}.")
            if found[1]:
                return found
    return None, []


def guess_paginator(body: Any, link_header: str | None, selector: str | None, params: dict[str, str]) -> dict[str, Any]:
    """dlt's paginator config for what the first page shows; {'type': 'single_page'} where it shows none."""
    if link_header and re.search(r'rel="?next"?', link_header):
        return {"type": "header_link"}
    found = _paging_fields(body, skip=selector)
    link = next((p for p, k, v in found if k in _NEXT_LINKS and _looks_like_link(v)), None)
    if link:
        return {"type": "json_link", "next_url_path": link}
    cursor = next(((p, k) for p, k, v in found if k in _CURSORS and isinstance(v, str) and v), None)
    if cursor:
        return {"type": "cursor", "cursor_path": cursor[0], "cursor_param": _cursor_param(cursor[0])}
    pages = next((p for p, k, v in found if k in _PAGE_COUNTS and _is_count(v)), None)
    if pages:
        page = next((v for p, k, v in found if k in _PAGE_PARAMS and _is_count(v)), None)
        param = next((name for name in params if column_key(name) in _PAGE_PARAMS), "page")
        return {"type": "page_number", "page_param": param, "base_page": 0 if page == 0 else 1, "total_path": pages}
    total = next((p for p, k, v in found if k in _TOTALS and _is_count(v)), None)
    if total:
        limit = next((name for name in params if column_key(name) in _LIMIT_PARAMS), "limit")
        size = params.get(limit)
        return {"type": "offset", "limit": int(size) if size and size.isdigit() else 100, "offset_param": "offset",
                "limit_param": limit, "total_path": total}
    return {"type": "single_page"}


def _paging_fields(node: Any, skip: str | None, path: str = "", depth: int = 0) -> list[tuple[str, str, Any]]:
    """(JSONPath, key compared like a column name, value) of the body's fields outside the records,
    to three levels: any object at the top, deeper only objects named for paging ('next', 'links' ...)."""
    if not isinstance(node, dict) or depth > 2:
        return []
    out = []
    for key, value in node.items():
        where = f"{path}{_json_path_key(key)}"
        if where == skip:
            continue
        if isinstance(value, dict):
            if depth == 0 or column_key(key) in _PAGING_PARENTS:
                out += _paging_fields(value, skip, f"{where}.", depth + 1)
        elif not isinstance(value, list):
            out.append((where, column_key(key), value))
    # a link or cursor at the top or under 'links' and 'meta' before one deeper down
    return sorted(out, key=lambda field: field[0].count("."))


def _json_path_key(key: str) -> str:
    """A key as dlt's JSONPath reads it: quoted where it holds a dot or sign ('@odata.nextLink')."""
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"'{key}'"


def _looks_like_link(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith(("http://", "https://", "/", "?")))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _cursor_param(cursor_path: str) -> str:
    """The query parameter a cursor is sent back in, as APIs name them: 'nextPageToken' -> 'pageToken',
    'next_cursor' -> 'cursor', 'after' -> 'after' (to check against the API's documentation)."""
    name = cursor_path.rsplit(".", 1)[-1].strip("'")
    stem = re.sub(r"^next[_-]?", "", name, flags=re.IGNORECASE) or name
    return stem[0].lower() + stem[1:]


def rest_starter(name: str, base_url: str | None = None, endpoint: str | None = None,
                 token_env: str | None = None, key_header: str | None = None) -> str:
    """The silo file: read from one page of the endpoint where one is given, else a template."""
    env = name.upper()
    probe = base_url and endpoint and "${" not in base_url
    sample = introspect_rest(base_url, endpoint, token_env, key_header) if probe else None
    if sample is None:
        return _template(name, base_url, endpoint, token_env or f"{env}_API_TOKEN")
    import pandas as pd

    from sources.dlt_sources import flattened_frame

    frame = flattened_frame(pd.DataFrame.from_records(sample.records[:200]))
    columns = [str(c) for c in frame.columns]
    mapping = guess_starter_mapping(columns)
    cursor = guess_cursor(columns)
    if cursor and "source_updated_at" not in mapping:
        mapping["source_updated_at"] = cursor
    pk = guess_primary_key(frame.astype("string"))
    path = urlsplit(endpoint).path.strip("/")
    return f"""\
# Silo {name}: a REST API, read from one page of {base_url.rstrip('/')}/{path}.
# fields found: {', '.join(columns)}
# Secrets come from environment variables only. Review every line, then run `hub silos check {name}`.
{silo_header(name, "rest")}
{_country_line(guess_country(frame, mapping))}
rest:
  base_url: {_yaml_text(base_url)}
  {_auth_line(token_env, key_header, env)}
  paginator: {_flow(sample.paginator)}   # {_paginator_note(sample.paginator)}
  endpoints:
    - name: customers
      path: {_yaml_text(path)}
{_params_line(sample.params)}      data_selector: {_yaml_text(sample.data_selector) if sample.data_selector else "$"}{"" if sample.data_selector else "                 # the answer is the list of records"}
      primary_key: {_yaml_columns(pk[0]) if pk else "id              # TODO: the field that identifies a record"}
{_incremental_line(cursor, *_since_of(sample, cursor, frame))}
mapping:                           # canonical field: source field (nested objects are parent__child)
{_mapping_lines(mapping)}facts: []                          # e.g. - {{name: open_tickets, column: open_tickets, type: number, agg: sum}}
"""


def _since_of(sample: RestSample, cursor: str | None, frame: Any) -> tuple[str | None, Any]:
    """(the changed-since parameter the API filters by, a value of the cursor field), asked of the API
    only where a cursor field was found."""
    if not cursor:
        return None, None
    values = frame[cursor].dropna()
    value = values.iloc[0] if len(values) else ""
    return since_param(sample, value), value


def _incremental_line(cursor: str | None, param: str | None, value: Any) -> str:
    """`incremental:` with the parameter the API was seen to filter by, else commented out."""
    if not cursor:
        return "      # incremental: {param: updated_since, cursor_path: updated_at}   # no field that changes with a record found"
    if param is None:
        return (f"      # incremental: {{param: updated_since, cursor_path: {_yaml_text(cursor)}}}   # TODO: the API's "
                "'changed since' parameter (none of the usual names filtered the page), then uncomment")
    initial = ', initial_value: 0' if str(value).isdigit() else ""
    path = cursor.replace("__", ".")  # a spread field's place in the record: 'properties.updated_at'
    return (f"      incremental: {{param: {param}, cursor_path: {_yaml_text(path)}{initial}}}"
            f"   # {param} set in the future emptied the page")


def _flow(config: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_yaml_text(str(v)) if isinstance(v, str) else v}" for k, v in config.items()) + "}"


def _paginator_note(paginator: dict[str, Any]) -> str:
    return {
        "header_link": "the answer's Link header names the next page",
        "json_link": "the answer holds the next page's URL",
        "cursor": "the answer holds a cursor: check the parameter it is sent back in",
        "page_number": "the answer counts its pages",
        "offset": "the answer counts the records: check the limit and offset parameters",
    }.get(paginator["type"], "no next link, cursor or count in the first answer: one page; set one if the API pages")


def _auth_line(token_env: str | None, key_header: str | None, env: str) -> str:
    if token_env and key_header:
        return f'auth: {{type: api_key, name: {_yaml_text(key_header)}, api_key: "${{{token_env}}}", location: header}}'
    if token_env:
        return f'auth: {{type: bearer, token: "${{{token_env}}}"}}'
    return (f'# auth: {{type: bearer, token: "${{{env}_API_TOKEN}}"}}   # the probe needed none; '
            "or api_key / http_basic / oauth2_client_credentials")


def _params_line(params: dict[str, str]) -> str:
    if not params:
        return ""
    return "      params: {" + ", ".join(f"{_yaml_text(k)}: {_yaml_text(v)}" for k, v in params.items()) + "}\n"


def _template(name: str, base_url: str | None, endpoint: str | None, token_env: str) -> str:
    env = name.upper()
    return f"""\
# Silo {name}: a REST API. Secrets come from environment variables only.
# `hub silos new rest {name} --base-url URL --endpoint PATH` reads one page of the API and fills this in.
{silo_header(name, "rest")}
country: US
rest:
  base_url: {base_url or "${" + env + "_API_URL}"}
  auth: {{type: bearer, token: "${{{token_env}}}"}}   # or api_key / http_basic
  paginator: {{type: json_link, next_url_path: links.next}}   # or page_number, offset, cursor
  endpoints:
    - name: customers
      path: {endpoint or "api/v1/customers"}
      params: {{per_page: 100}}
      data_selector: data              # where the records are in each response
      primary_key: id
      incremental: {{param: updated_since, cursor_path: updated_at}}
mapping:                           # TODO: map your fields (see docs/silos.md)
  email: email
  # name: {{column: name, form: free}}
facts: []
"""
