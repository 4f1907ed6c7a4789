"""Identity commands: `hub resolve INPUT --out OUTPUT` and `hub evaluate PREDICTED TRUTH`."""
from __future__ import annotations

import gc
import time
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
console = Console(stderr=True)


def read_table(path: Path, country: str | None = None) -> pd.DataFrame:
    """Parquet, CSV or Excel (by extension) with every column as text; a clear error for anything else.
    A CSV in another encoding than UTF-8 (a Windows code page, UTF-16) is read in the one its bytes
    show, preferring `country`'s code page (sources/encoding.py)."""
    if not path.exists():
        raise typer.BadParameter(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return _read_csv(path, country)
    if suffix in (".xlsx", ".xls"):  # what a department e-mails: its first sheet below any title lines, every cell as text
        from sources.csv_layout import sheet_title_rows

        try:
            book = pd.ExcelFile(path)
            return book.parse(0, dtype=str, keep_default_na=False, na_values=[""], skiprows=sheet_title_rows(book))
        except Exception as exc:  # openpyxl's errors for a file that is no workbook vary by damage
            raise typer.BadParameter(f"{path}: not readable as an Excel workbook: {exc}") from None
    raise typer.BadParameter(f"{path}: expected a .parquet, .csv, .xlsx or .xls file, got {suffix or 'no extension'!r}")


def _read_csv(path: Path, country: str | None) -> pd.DataFrame:
    from sources.csv_layout import csv_layout, head_lines
    from sources.encoding import UndecodableFileError, describe_decode_error, detect_encoding

    try:
        encoding = detect_encoding(lambda: path.open("rb"), str(path), country)
    except UndecodableFileError as exc:
        raise typer.BadParameter(str(exc)) from None
    if encoding != "utf-8-sig":
        console.print(f"[yellow]{path}: not UTF-8, read as {encoding}[/]")
    with path.open("rb") as handle:
        delimiter, skip = csv_layout(head_lines(handle, encoding), None, '"', True, None)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], sep=delimiter, skiprows=skip,
                           encoding=encoding)
    except pd.errors.EmptyDataError:
        raise typer.BadParameter(f"{path}: the file is empty (not even a header line)") from None
    except pd.errors.ParserError as exc:
        raise typer.BadParameter(f"{path}: not readable as CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(describe_decode_error(exc, str(path), encoding)) from None


MATCH_COLUMNS = ("given_name", "family_name", "full_name", "email", "phone", "address_line", "postcode",
                 "birth_date", "national_id")


def with_canonical_names(df: pd.DataFrame) -> pd.DataFrame:
    """Columns named for a canonical field in another spelling ('First Name', 'E-mail', 'ZIP',
    'Date of Birth', 'SSN', 'Source Record ID', a database's 'CUST_FIRST_NM' or 'ZIP_CD') renamed to it
    and said so; whole names only (read as `sources.starter.field_key` reads them), the same list
    `hub silos new` guesses a mapping from; a canonical column already there wins."""
    from sources.starter import GUESSES, field_key

    spellings = {**{n: f for f, names in GUESSES.items() for n in names},
                 **{field_key(f): f for f in (*GUESSES, "silo", "source_record_id")}}
    renames: dict[str, str] = {}
    for column in df.columns:
        field = spellings.get(field_key(str(column)))
        if field and column != field and field not in df.columns and field not in renames.values():
            renames[column] = field
    named = {field: column for column, field in renames.items()}
    has = set(df.columns) | set(named)
    if "full_name" in named and "given_name" in has and "family_name" not in has:
        renames[named["full_name"]] = "family_name"  # 'Vorname' beside 'Name': the name is the family's
    if not renames:
        return df
    table = Table("column in the file", "read as", title="Columns named another way")
    for column, field in renames.items():
        table.add_row(str(column), field)
    console.print(table)
    return df.rename(columns=renames, copy=False)  # a million rows' columns need not be copied to be renamed


def require_match_columns(df: pd.DataFrame, path: Path) -> None:
    """Refuse input with nothing to match on (a wrong delimiter or other column names) instead of
    returning every record as its own customer."""
    if not any(c in df.columns for c in MATCH_COLUMNS):
        found = ", ".join(map(str, df.columns[:8])) + (" ..." if len(df.columns) > 8 else "")
        raise typer.BadParameter(f"{path}: none of the columns {', '.join(MATCH_COLUMNS)} is present "
                                 f"(found: {found})")


def require_unique_keys(df: pd.DataFrame, path: Path) -> None:
    """Refuse two rows with one (silo, source_record_id) before any work: the output has one row per
    record key, so which row a customer id belongs to could not be told."""
    from identity_resolution.resolver import repeated_keys

    rows = repeated_keys(df)
    if rows:
        examples = "; ".join(f"{key.replace('|', ':', 1)} (data rows {', '.join(str(i + 1) for i in at[:3])})"
                             for key, at in list(rows.items())[:3])
        raise typer.BadParameter(f"{path}: {len(rows)} (silo, source_record_id) keys appear more than once, "
                                 f"e.g. {examples}; make each record's key unique or drop the repeats")


def region_of(df: pd.DataFrame) -> str:
    """The country most records show by their emails' country domains and phones' international
    prefixes (sources.starter.guess_country over the first thousand of each), else US; said so."""
    from sources.starter import guess_country

    columns = {c: c for c in ("email", "phone") if c in df.columns}
    sample = pd.DataFrame({c: df[c].dropna().head(1000).reset_index(drop=True) for c in columns})
    region = guess_country(sample, columns) if columns else None
    console.print(f"region: {region} (read from the emails' domains and the phones' prefixes; --region sets it)"
                  if region else "region: US (the default; --region sets it)")
    return region or "US"


def with_record_keys(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Fill `silo` from the file stem and `source_record_id`, when absent, from an id-like column with
    a value on every row and no value twice ('Customer No', 'Kunden-Nr'), else from the row number."""
    from sources.starter import guess_primary_key

    df = df.copy()
    if "silo" not in df.columns:
        df["silo"] = path.stem
    else:
        df["silo"] = df["silo"].where(df["silo"].notna(), path.stem)
    if "source_record_id" not in df.columns:
        key = guess_primary_key(df)
        if key:
            df["source_record_id"] = df[key[0]].astype(str)
            console.print(f"source_record_id: read from column {key[0]!r}")
        else:
            df["source_record_id"] = [str(i) for i in range(1, len(df) + 1)]
    return df


@app.command("resolve")
def resolve_command(
    input: Path = typer.Argument(..., help="Parquet, CSV or Excel (.xlsx, .xls) with canonical columns (raw values)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output Parquet: silo, source_record_id, customer_id, match_probability."),
    model: Path | None = typer.Option(None, "--model", help="Use this trained model JSON instead of training."),
    save_model: Path | None = typer.Option(None, "--save-model", help="Write the trained model JSON here."),
    threshold: float | None = typer.Option(None, "--threshold", help="Match probability threshold (default 0.5)."),
    region: str | None = typer.Option(
        None, "--region", help="Country (ISO-2) of records without one: national phone numbers, numeric dates, "
                               "code pages. Default: read from the emails' country domains and the phones' "
                               "international prefixes, else US."),
    pairs_out: Path | None = typer.Option(None, "--pairs-out", help="Also write the scored pairs (Parquet)."),
    labels_file: Path | None = typer.Option(
        None, "--labels", help="Labelled pairs (CSV/Parquet: silo_l, source_record_id_l, silo_r, source_record_id_r, "
                               "is_match): labelled matches train m, every pair checks the model."),
) -> None:
    """Resolve the records of INPUT into customers and write the cross-reference to OUTPUT."""
    from identity_resolution import FellegiSunterModel, ResolverConfig, resolve, standardise_records
    from identity_resolution.conventions import read_conventions
    from identity_resolution.labels import read_labels
    from identity_resolution.national_ids import MissingHashKeyError
    from identity_resolution.resolver import RESOLVER_COLUMNS

    start = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        labels = read_labels(read_table(labels_file), str(labels_file)) if labels_file else None
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("reading", total=1.0)
        t = time.perf_counter()
        raw = with_canonical_names(read_table(input, region))
        region = region or region_of(raw)
        require_match_columns(raw, input)
        raw = with_record_keys(raw, input)
        require_unique_keys(raw, input)
        timings["read"] = time.perf_counter() - t
        bar.update(task, description="standardising", completed=0.05)
        t = time.perf_counter()
        habits = read_conventions(raw)
        try:
            staged = standardise_records(raw, default_region=region, conventions=habits)
        except MissingHashKeyError as exc:
            bar.stop()
            console.print(f"[red]error:[/] {input}: {exc}")
            raise typer.Exit(2) from exc
        timings["standardise"] = time.perf_counter() - t
        n_input = len(raw)
        del raw  # a million raw rows are a gigabyte we no longer need
        gc.collect()
        config = ResolverConfig(default_region=region, save_model_path=str(save_model) if save_model else None,
                                **({"match_threshold": threshold} if threshold is not None else {}))
        trained = FellegiSunterModel.from_json(model) if model else None
        staged = staged[[c for c in RESOLVER_COLUMNS if c in staged.columns]]  # display/raw columns not needed
        gc.collect()

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=0.1 + 0.85 * fraction)

        result = resolve(staged, config, progress=progress, model=trained, labels=labels)
        timings.update(result.timings)
        bar.update(task, description="writing", completed=0.97)
        t = time.perf_counter()
        out.parent.mkdir(parents=True, exist_ok=True)
        result.xref.to_parquet(out, index=False)
        if pairs_out:
            result.pairs.to_parquet(pairs_out, index=False)
        timings["write"] = time.perf_counter() - t
        bar.update(task, description="done", completed=1.0)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    _print_timings(timings, time.perf_counter() - start)
    _print_summary(result, n_input, out)
    _print_conventions(habits)
    if trained is None:  # a reused model's overlap is that of the data it was trained on
        _print_silo_overlap(result.model)
    if result.label_check:
        _print_label_check(result.label_check, trained_with_labels=trained is None)


def _print_conventions(habits) -> None:
    """The silos whose values were read by their habit rather than one by one (conventions.py)."""
    if not habits.silos():
        return
    table = Table(title="Silo habits (read from each silo's own values)")
    table.add_column("silo")
    table.add_column("read as")
    for silo in habits.silos():
        table.add_row(silo, ", ".join(habits.habits_of(silo)))
    console.print(table)


def _print_label_check(check: dict, trained_with_labels: bool) -> None:
    title = "Labelled pairs" + (" (in-sample: they also trained m)" if trained_with_labels else "")
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in check.items():
        table.add_row(name.replace("_", " "), f"{value:,}" if isinstance(value, int) else f"{value:.4f}")
    console.print(table)


def _print_timings(timings: dict[str, float], total: float) -> None:
    table = Table(title="Stage timings")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in timings.items():
        table.add_row(stage, f"{seconds:.2f}")
    table.add_row("[bold]total", f"[bold]{total:.2f}")
    console.print(table)


def _print_summary(result, n_input: int, out: Path) -> None:
    sizes = result.xref.groupby("customer_id").size()
    table = Table(title="Summary")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("input records", n_input),
        ("records resolved", len(result.xref)),
        ("customers", len(sizes)),
        ("multi-record customers", int((sizes > 1).sum())),
        ("largest customer (records)", int(sizes.max()) if len(sizes) else 0),
        ("candidate pairs", result.candidate_pairs),
        ("pairs for review", len(result.review)),
        ("output", str(out)),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)


SILO_PAIRS_SHOWN = 20


def _print_silo_overlap(model) -> None:
    """The matches the model expects between each pair of silos (settled this run): which
    departments share customers, and how often one holds a customer twice."""
    rows = sorted((h for h in model.em_history if h.get("session") == "silo_pair_prior"),
                  key=lambda h: -h["expected_matches"])
    if not rows:
        return
    table = Table(title="Silo overlap (expected matching record pairs)")
    for column in ("silos", "candidate pairs", "expected matches", "per million record pairs"):
        table.add_column(column, justify="left" if column == "silos" else "right")
    for h in rows[:SILO_PAIRS_SHOWN]:
        a, b = h["silos"]
        table.add_row(f"{a} × {b}" if a != b else f"{a} (within)", f"{h['candidates']:,}",
                      f"{h['expected_matches']:,.0f}", f"{h['prior'] * 1e6:,.2f}")
    if len(rows) > SILO_PAIRS_SHOWN:
        table.caption = f"{len(rows) - SILO_PAIRS_SHOWN} more pairs of silos in the model's JSON history"
    console.print(table)


@app.command("evaluate")
def evaluate_command(
    predicted: Path = typer.Argument(..., help="Parquet/CSV with silo, source_record_id, customer_id."),
    truth: Path = typer.Argument(..., help="Parquet/CSV with silo, source_record_id, person_id."),
) -> None:
    """Pairwise and B-cubed precision, recall and F1 of PREDICTED clusters against TRUTH."""
    from identity_resolution import evaluate

    try:
        metrics = evaluate(read_table(predicted), read_table(truth))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    table = Table(title=f"{predicted.name} vs {truth.name} ({metrics['records']:,} records)")
    for col in ("metric", "precision", "recall", "F1"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for label, key in (("pairwise", "pairwise"), ("B-cubed", "bcubed")):
        table.add_row(label, f"{metrics[key + '_precision']:.4f}", f"{metrics[key + '_recall']:.4f}", f"{metrics[key + '_f1']:.4f}")
    Console().print(table)
    if metrics["predicted_only"] or metrics["truth_only"]:
        Console().print(f"[yellow]{metrics['predicted_only']} predicted-only and {metrics['truth_only']} truth-only records were left out")
