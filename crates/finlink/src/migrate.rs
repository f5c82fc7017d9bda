//! `finlink migrate import|status|checklist|export`: wiring and printing around
//! `finlink_app::bulk`, which decides everything.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use finlink_app::App;
use finlink_app::bulk::{Format, ImportEnd, ImportOptions, Progress};
use finlink_domain::clock::Stopwatch;
use finlink_domain::ids::ClientId;
use finlink_store::MigrationRun;

use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// Import connections (tokens and settings) from JSON Lines or CSV: validate every row,
    /// check a canary end to end, import the rest in batches; rerun the same command to resume.
    Import {
        /// The input file, or - for standard input.
        file: String,
        /// jsonl or csv (default: detected from the content).
        #[arg(long)]
        format: Option<String>,
        /// The client (tenant) to import for; optional when the database has one client.
        #[arg(long)]
        client: Option<String>,
        /// Validate every row and print the report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the valid rows even when some are invalid (those are reported, not imported).
        #[arg(long)]
        skip_invalid: bool,
        /// Replace the credentials of connections that already have some (default: keep them,
        /// report the row unchanged).
        #[arg(long)]
        overwrite: bool,
        /// Companies to import and check end to end (token refresh, test pull) before the rest;
        /// 0 turns the canary off.
        #[arg(long, default_value_t = 1)]
        canary: u32,
        /// After a failed canary, remove the canary's companies and connections.
        #[arg(long)]
        rollback_canary: bool,
        /// Seconds each canary connection may take.
        #[arg(long, default_value_t = 60)]
        canary_timeout: u64,
        /// Write one line per input row (row, companyId, connectionId, outcome, error).
        #[arg(long)]
        report: Option<PathBuf>,
        /// jsonl or csv (default: from the report file's extension, else jsonl).
        #[arg(long)]
        report_format: Option<String>,
        /// Rows per transaction.
        #[arg(long, default_value_t = 5000)]
        batch_size: usize,
        /// Spread the first refresh of tokens with unknown or past expiry over this many seconds.
        #[arg(long, default_value_t = 3600)]
        refresh_window: i64,
        /// bar, log or none (default: bar on a terminal, log lines otherwise).
        #[arg(long)]
        progress: Option<String>,
    },
    /// List runs with their counts, or show one run.
    Status {
        /// A run id.
        run: Option<String>,
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Print what to do around a migration to INTEGRATION (key or slug).
    Checklist { integration: String },
    /// Write the client's connections in the import format (credentials only with
    /// --include-secrets, then to a file with mode 0600).
    Export {
        #[arg(long)]
        client: Option<String>,
        /// The output file (default: standard output; required with --include-secrets).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// jsonl or csv (default: jsonl).
        #[arg(long)]
        format: Option<String>,
        /// Include the tokens and other secret fields.
        #[arg(long)]
        include_secrets: bool,
    },
}

fn err(e: finlink_domain::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn run(cfg: &Config, command: MigrateCommand) -> anyhow::Result<()> {
    match command {
        MigrateCommand::Checklist { integration } => checklist(cfg, &integration),
        MigrateCommand::Status { run, limit } => {
            let app = crate::cli::offline_app(cfg).await?;
            status(&app, run, limit).await
        }
        MigrateCommand::Export {
            client,
            output,
            format,
            include_secrets,
        } => {
            let app = crate::cli::offline_app(cfg).await?;
            export(&app, client, output, format, include_secrets).await
        }
        MigrateCommand::Import {
            file,
            format,
            client,
            dry_run,
            skip_invalid,
            overwrite,
            canary,
            rollback_canary,
            canary_timeout,
            report,
            report_format,
            batch_size,
            refresh_window,
            progress,
        } => {
            let app = crate::cli::offline_app(cfg).await?;
            crate::check_keys(app.store.as_ref(), &app.vault).await?;
            let client = resolve_client(&app, client).await?;
            // Standard input can be read once; the import reads twice (validate, then import), so
            // it is spooled to a private temporary file first.
            let (path, _spool) = if file == "-" {
                let (path, spool) = spool_stdin()?;
                (path, Some(spool))
            } else {
                (PathBuf::from(&file), None)
            };
            let format = match format {
                Some(f) => Format::parse(&f)
                    .ok_or_else(|| anyhow::anyhow!("--format {f}: use jsonl or csv"))?,
                None => detect(&path)?,
            };
            let opts = ImportOptions {
                client,
                format,
                source: file.clone(),
                skip_invalid,
                overwrite,
                canary,
                rollback_canary,
                batch_size,
                refresh_window_secs: refresh_window.max(0),
                canary_timeout: std::time::Duration::from_secs(canary_timeout.max(1)),
            };
            let report = report.map(|p| {
                let csv = match report_format.as_deref() {
                    Some(f) => f.eq_ignore_ascii_case("csv"),
                    None => p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")),
                };
                (p, csv)
            });
            let mode = match progress.as_deref() {
                Some("bar") => Mode::Bar,
                Some("log") => Mode::Log,
                Some("none") => Mode::None,
                Some(other) => anyhow::bail!("--progress {other}: use bar, log or none"),
                None if std::io::stderr().is_terminal() => Mode::Bar,
                None => Mode::Log,
            };
            import(&app, &opts, &path, dry_run, report, mode).await
        }
    }
}

fn detect(path: &Path) -> anyhow::Result<Format> {
    let mut f = std::io::BufReader::new(
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    );
    let head = f.fill_buf()?;
    Ok(Format::detect(head))
}

async fn resolve_client(app: &App, client: Option<String>) -> anyhow::Result<ClientId> {
    if let Some(c) = client {
        let id = ClientId::parse(&c).map_err(err)?;
        return Ok(app.get_client(id).await.map_err(err)?.id);
    }
    let clients = app.store.list_clients().await.map_err(err)?;
    match clients.as_slice() {
        [one] => Ok(one.id),
        [] => anyhow::bail!(
            "the database has no client yet: create one with `finlink clients create --name NAME` (or start `finlink serve` once)"
        ),
        many => anyhow::bail!(
            "the database has {} clients; say which one to import for with --client ID",
            many.len()
        ),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Log,
    None,
}

/// Shows progress: an indicatif bar on a terminal, a log line every 5% otherwise.
struct Shower {
    mode: Mode,
    bar: Option<indicatif::ProgressBar>,
    last_logged: u64,
    watch: Stopwatch,
    start_done: u64,
}

impl Shower {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            bar: None,
            last_logged: 0,
            watch: Stopwatch::start(),
            start_done: 0,
        }
    }

    fn note(&self, s: &str) {
        match &self.bar {
            Some(b) => b.println(s),
            None if self.mode != Mode::None => eprintln!("{s}"),
            None => {}
        }
    }

    fn on(&mut self, p: Progress<'_>) {
        match p {
            Progress::Validating { rows } => {
                if self.mode == Mode::Log && rows > 0 && rows % 250_000 == 0 {
                    eprintln!("finlink migrate: validated {rows} rows");
                }
            }
            Progress::Importing { run, done, total } => {
                self.start_done = done;
                self.watch = Stopwatch::start();
                if self.mode == Mode::Bar && self.bar.is_none() {
                    let bar = indicatif::ProgressBar::with_draw_target(
                        Some(total),
                        indicatif::ProgressDrawTarget::stderr_with_hz(10),
                    );
                    let style = indicatif::ProgressStyle::with_template(
                        "{spinner} importing [{elapsed_precise}] [{wide_bar}] {pos}/{len} rows ({per_sec}, ETA {eta})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> ");
                    bar.set_style(style);
                    bar.set_position(done);
                    bar.reset_eta();
                    self.bar = Some(bar);
                } else if let Some(b) = &self.bar {
                    b.set_position(done);
                }
                if self.mode == Mode::Log {
                    eprintln!(
                        "finlink migrate: run {} importing rows {}..{} of {total}",
                        run.id,
                        done + 1,
                        total
                    );
                }
            }
            Progress::Batch { done, total } => {
                if let Some(b) = &self.bar {
                    b.set_position(done);
                }
                if self.mode == Mode::Log
                    && (done >= total
                        || done.saturating_sub(self.last_logged) >= (total / 20).max(1))
                {
                    self.last_logged = done;
                    let secs = self.watch.seconds().max(0.001);
                    let rate = (done - self.start_done) as f64 / secs;
                    let eta = if rate > 0.0 {
                        (total - done) as f64 / rate
                    } else {
                        0.0
                    };
                    eprintln!(
                        "finlink migrate: {done}/{total} rows ({:.0}%), {rate:.0} rows/s, ETA {eta:.0}s",
                        done as f64 * 100.0 / total.max(1) as f64
                    );
                }
            }
            Progress::CanaryChecked {
                row,
                connection,
                result,
            } => match result {
                Ok(s) => self.note(&format!(
                    "canary row {row}: connection {connection} ok: {s}"
                )),
                Err(e) => self.note(&format!(
                    "canary row {row}: connection {connection} FAILED: {e}"
                )),
            },
            Progress::Note(s) => self.note(&format!("finlink migrate: {s}")),
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

fn summary(run: &MigrationRun, secs: f64) -> String {
    format!(
        "{} of {} rows: {} (run {}, {:.1}s)",
        run.counts.rows(),
        run.total_rows,
        run.counts,
        run.id,
        secs
    )
}

/// One report line.
struct ReportWriter {
    out: std::io::BufWriter<std::fs::File>,
    csv: bool,
}

impl ReportWriter {
    fn create(path: &Path, csv: bool) -> anyhow::Result<Self> {
        // Mode 0600: a report names companies and connections, and an error may quote input.
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        let file = open
            .open(path)
            .with_context(|| format!("cannot write the report {}", path.display()))?;
        let mut w = Self {
            out: std::io::BufWriter::new(file),
            csv,
        };
        if csv {
            writeln!(w.out, "row,companyId,connectionId,outcome,error")?;
        }
        Ok(w)
    }

    fn line(
        &mut self,
        row: u64,
        company: Option<String>,
        connection: Option<String>,
        outcome: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        if self.csv {
            let q = |s: &str| {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_owned()
                }
            };
            writeln!(
                self.out,
                "{row},{},{},{},{}",
                company.unwrap_or_default(),
                connection.unwrap_or_default(),
                q(outcome),
                q(error.unwrap_or(""))
            )?;
        } else {
            let v = serde_json::json!({
                "row": row,
                "companyId": company,
                "connectionId": connection,
                "outcome": outcome,
                "error": error,
            });
            writeln!(self.out, "{v}")?;
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

async fn write_run_report(
    app: &App,
    run: &MigrationRun,
    w: &mut ReportWriter,
) -> anyhow::Result<u64> {
    let mut after = 0;
    let mut n = 0;
    loop {
        let rows = app.migration_rows(run.id, after, 5000).await.map_err(err)?;
        let Some(last) = rows.last() else { break };
        after = last.row;
        for r in &rows {
            w.line(
                r.row,
                r.company_id.map(|c| c.to_string()),
                r.connection_id.map(|c| c.to_string()),
                &r.outcome,
                r.error.as_deref(),
            )?;
            n += 1;
        }
    }
    Ok(n)
}

async fn import(
    app: &App,
    opts: &ImportOptions,
    path: &Path,
    dry_run: bool,
    report: Option<(PathBuf, bool)>,
    mode: Mode,
) -> anyhow::Result<()> {
    let watch = Stopwatch::start();
    let open_path = path.to_owned();
    let open = move || -> std::io::Result<Box<dyn BufRead + Send>> {
        Ok(Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            std::fs::File::open(&open_path)?,
        )))
    };
    let mut shower = Shower::new(mode);
    if dry_run {
        let mut writer = match &report {
            Some((p, csv)) => Some(ReportWriter::create(p, *csv)?),
            None => None,
        };
        let mut write_err: Option<anyhow::Error> = None;
        let mut on_row =
            |n: u64, verdict: Result<(), &finlink_app::bulk::RowError>, dup: Option<u64>| {
                if let Some(w) = writer.as_mut() {
                    let dup_text = dup.map(|d| format!("duplicate of row {d}"));
                    let (outcome, error) = match (&verdict, &dup_text) {
                        (Err(e), _) => ("invalid", Some(e.to_string())),
                        (Ok(()), Some(d)) => ("duplicate", Some(d.clone())),
                        (Ok(()), None) => ("valid", None),
                    };
                    if let Err(e) = w.line(n, None, None, outcome, error.as_deref())
                        && write_err.is_none()
                    {
                        write_err = Some(e);
                    }
                }
            };
        let v = app
            .migrate_validate(opts, &open, &mut on_row, &mut |p| shower.on(p))
            .await
            .map_err(err)?;
        if let Some(e) = write_err {
            return Err(e);
        }
        if let Some(w) = writer {
            w.finish()?;
        }
        print_errors(&v.errors);
        println!(
            "dry run: {} rows, {} valid, {} invalid, {} duplicate; {} canary compan{} ({} rows); nothing was written",
            v.total,
            v.valid() - v.duplicates.len() as u64,
            v.errors.len(),
            v.duplicates.len(),
            v.canary_companies,
            if v.canary_companies == 1 { "y" } else { "ies" },
            v.canary_rows
        );
        if !v.errors.is_empty() {
            anyhow::bail!(
                "{} invalid row(s): fix them, or rerun with --skip-invalid to import the others",
                v.errors.len()
            );
        }
        return Ok(());
    }
    let end = app.migrate_import(opts, &open, &mut |p| shower.on(p)).await;
    shower.finish();
    let end = end.map_err(err)?;
    let secs = watch.seconds();
    match end {
        ImportEnd::Invalid(v) => {
            print_errors(&v.errors);
            anyhow::bail!(
                "{} of {} rows are invalid, so nothing was written; fix them (check with --dry-run), or rerun with --skip-invalid to import the others",
                v.errors.len(),
                v.total
            );
        }
        ImportEnd::CanaryFailed {
            run,
            failures,
            rolled_back,
        } => {
            if let Some((p, csv)) = &report {
                let mut w = ReportWriter::create(p, *csv)?;
                write_run_report(app, &run, &mut w).await?;
                w.finish()?;
            }
            for f in &failures {
                eprintln!(
                    "canary row {}: company {} connection {}: {}",
                    f.row,
                    f.company.map(|c| c.to_string()).unwrap_or_default(),
                    f.connection.map(|c| c.to_string()).unwrap_or_default(),
                    f.error
                );
            }
            println!("canary failed: {}", summary(&run, secs));
            if rolled_back {
                anyhow::bail!(
                    "the canary failed ({} connection(s)); its companies and connections were removed and no other row was written",
                    failures.len()
                );
            }
            if let Some(why) = run
                .detail
                .as_deref()
                .and_then(|d| d.split_once("; not rolled back: "))
                .map(|(_, why)| why)
            {
                anyhow::bail!(
                    "the canary failed ({} connection(s)); no other row was written. Not rolled back: {why}. Fix the cause and rerun the same command to check them again and continue",
                    failures.len()
                );
            }
            anyhow::bail!(
                "the canary failed ({} connection(s)); no other row was written. The canary's connections are kept: fix the cause and rerun the same command to check them again and continue, or rerun with --rollback-canary to remove them",
                failures.len()
            );
        }
        ImportEnd::Completed(run) => {
            if let Some((p, csv)) = &report {
                let mut w = ReportWriter::create(p, *csv)?;
                let n = write_run_report(app, &run, &mut w).await?;
                w.finish()?;
                eprintln!(
                    "finlink migrate: report of {n} rows written to {}",
                    p.display()
                );
            }
            let rate = run.total_rows as f64 / secs.max(0.001);
            println!("migrated {} ({rate:.0} rows/s)", summary(&run, secs));
            if run.counts.failed > 0 {
                anyhow::bail!(
                    "{} row(s) could not be stored; the report says why",
                    run.counts.failed
                );
            }
            Ok(())
        }
    }
}

fn print_errors(errors: &[(u64, finlink_app::bulk::RowError)]) {
    let mut err = std::io::stderr().lock();
    for (n, e) in errors.iter().take(100) {
        let _ = writeln!(err, "row {n}: {e}");
    }
    if errors.len() > 100 {
        let _ = writeln!(
            err,
            "... and {} more invalid rows (--report FILE lists every row)",
            errors.len() - 100
        );
    }
}

async fn status(app: &App, run: Option<String>, limit: u32) -> anyhow::Result<()> {
    let runs = match run {
        Some(id) => {
            let id = uuid::Uuid::parse_str(&id)
                .map_err(|_| anyhow::anyhow!("'{id}' is not a run id (a UUID)"))?;
            vec![
                app.migration_run(id)
                    .await
                    .map_err(err)?
                    .ok_or_else(|| anyhow::anyhow!("no migration run {id}"))?,
            ]
        }
        None => app.migration_runs(limit).await.map_err(err)?,
    };
    if runs.is_empty() {
        println!("no migration runs yet");
        return Ok(());
    }
    println!(
        "{:<36}  {:<13}  {:>9}  {:>9}  {:>8}  {:>8}  {:>9}  {:>9}  {:>8}  {:>7}  source",
        "run",
        "status",
        "rows",
        "done",
        "created",
        "updated",
        "unchanged",
        "duplicate",
        "invalid",
        "failed"
    );
    for r in &runs {
        let c = &r.counts;
        println!(
            "{:<36}  {:<13}  {:>9}  {:>9}  {:>8}  {:>8}  {:>9}  {:>9}  {:>8}  {:>7}  {} ({}, started {})",
            r.id,
            r.status,
            r.total_rows,
            r.watermark,
            c.created,
            c.updated,
            c.unchanged,
            c.duplicate,
            c.invalid,
            c.failed,
            r.source,
            r.format,
            r.created.to_rfc3339()
        );
        if let Some(d) = &r.detail {
            println!("    {d}");
        }
    }
    Ok(())
}

fn checklist(cfg: &Config, integration: &str) -> anyhow::Result<()> {
    let catalog = finlink_providers::Catalog::built_in().context("the built-in catalog")?;
    let integ = catalog
        .get(integration)
        .or_else(|| catalog.by_slug(integration))
        .or_else(|| {
            catalog
                .all()
                .iter()
                .find(|i| i.name.eq_ignore_ascii_case(integration))
        })
        .ok_or_else(|| {
            anyhow::anyhow!("'{integration}' is not an integration key, slug or name; `GET /integrations` lists them")
        })?;
    let public = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", cfg.listen));
    let fields: Vec<String> = integ
        .fields
        .iter()
        .map(|f| format!("{}{}", f.name, if f.required { "" } else { " (optional)" }))
        .collect();
    let oauth = integ.auth_type == finlink_domain::integration::AuthType::Oauth2;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Migrating {} ({}, key {}) connections to finlink",
        integ.name, integ.slug, integ.key
    )?;
    writeln!(out)?;
    let mut step = 0;
    let mut s = |out: &mut std::io::StdoutLock<'_>, text: String| -> std::io::Result<()> {
        step += 1;
        writeln!(out, "{step:>2}. {text}")
    };
    s(
        &mut out,
        format!(
            "Collect the platform details: finlink needs, per connection, {}; and the company each belongs to (companyRef + companyName, or companyId).",
            fields.join(", ")
        ),
    )?;
    if oauth {
        s(
            &mut out,
            format!(
                "Use the same OAuth app: give finlink the client id and secret the old system used for {} ([integrations.{}] client_id / client_secret, or PUT /integrations/{}/credentials per client). Tokens are bound to the app that issued them.",
                integ.name, integ.key, integ.key
            ),
        )?;
        s(
            &mut out,
            format!(
                "Register finlink's callback URL with that app at {}: {public}{} (keep the old one until the migration is done, so reconnections keep working).",
                integ.name,
                finlink_app::link::CALLBACK_PATH
            ),
        )?;
    }
    s(
        &mut out,
        String::from(
            "Schedule a window and tell the people who use the old system: no one reconnects, and nothing is lost.",
        ),
    )?;
    s(
        &mut out,
        String::from(
            "Export the connections from the old system (Codat's authorization bodies and Apideck's import bodies are accepted as they are), one per line (JSON Lines) or per row (CSV).",
        ),
    )?;
    s(
        &mut out,
        String::from(
            "Check the file: finlink migrate import FILE --dry-run --report check.jsonl (every row, with the field and fix of each problem). Nothing is written.",
        ),
    )?;
    if oauth {
        s(
            &mut out,
            format!(
                "Stop syncing and refreshing in the old system now: {} {} refresh tokens, and two systems refreshing the same grant race (one of them loses the grant).",
                integ.name,
                if integ
                    .oauth
                    .as_ref()
                    .is_some_and(|o| o.rotating_refresh_tokens)
                {
                    "rotates"
                } else {
                    "may rotate"
                }
            ),
        )?;
    } else {
        s(
            &mut out,
            String::from("Stop syncing in the old system now, so the two do not both pull."),
        )?;
    }
    s(
        &mut out,
        String::from(
            "Run the canary: finlink migrate import FILE --canary 1 --report report.jsonl imports the first company, refreshes its token and pulls one data type before anything else. If it fails, the run stops; fix the cause and rerun the same command (or add --rollback-canary to remove the canary).",
        ),
    )?;
    s(
        &mut out,
        String::from(
            "Let the same command import the rest (a progress bar shows rows/s and ETA). Interrupted? Run the same command again: it resumes after the last committed batch, without duplicates.",
        ),
    )?;
    s(
        &mut out,
        String::from(
            "Read the report (one line per input row) and `finlink migrate status`; rows marked failed or invalid need a look.",
        ),
    )?;
    s(
        &mut out,
        String::from(
            "Hand over: point your application at finlink, start syncs (fetch on first link is not triggered by a migration), and remove the old system's callback URL once no connection uses it.",
        ),
    )?;
    Ok(())
}

async fn export(
    app: &App,
    client: Option<String>,
    output: Option<PathBuf>,
    format: Option<String>,
    secrets: bool,
) -> anyhow::Result<()> {
    let client = resolve_client(app, client).await?;
    let csv = match format.as_deref() {
        None => output
            .as_ref()
            .and_then(|p| p.extension())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
        Some(f) => match Format::parse(f) {
            Some(Format::Csv) => true,
            Some(Format::Jsonl) => false,
            None => anyhow::bail!("--format {f}: use jsonl or csv"),
        },
    };
    let sink: Box<dyn Write + Send> = match &output {
        Some(p) => {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            let f = o
                .open(p)
                .with_context(|| format!("cannot write {}", p.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
            }
            Box::new(f)
        }
        None if secrets => anyhow::bail!(
            "--include-secrets writes tokens: give --output FILE (created with mode 0600), not standard output"
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut out = std::io::BufWriter::new(sink);
    let mut rows_csv: Vec<std::collections::BTreeMap<String, serde_json::Value>> = Vec::new();
    let n = app
        .migration_export(client, secrets, &mut |row| {
            if csv {
                rows_csv.push(row.clone());
                Ok(())
            } else {
                writeln!(
                    out,
                    "{}",
                    serde_json::Value::Object(row.clone().into_iter().collect())
                )
            }
        })
        .await
        .map_err(err)?;
    if csv {
        // CSV needs every column up front: the union of the rows' fields.
        let mut cols: Vec<String> = vec![
            "companyRef".into(),
            "companyName".into(),
            "integration".into(),
            "tags".into(),
        ];
        for r in &rows_csv {
            for k in r.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&cols)?;
        for r in &rows_csv {
            let rec: Vec<String> = cols
                .iter()
                .map(|c| match r.get(c) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                })
                .collect();
            w.write_record(&rec)?;
        }
        w.flush()?;
    }
    out.flush()?;
    eprintln!(
        "finlink migrate: exported {n} connection(s){}",
        if secrets {
            " with their credentials"
        } else {
            " (without credentials; --include-secrets adds them)"
        }
    );
    Ok(())
}

/// Copies standard input (tokens) to a private temporary file the import can read twice, and
/// gives a path to it. On Linux the file is unlinked from the start (`tempfile::tempfile`) and
/// reached through `/proc/self/fd`: nothing is left on disk however the process ends, SIGKILL
/// included. Elsewhere it is a named file (mode 0600) removed when the import ends normally.
#[cfg(target_os = "linux")]
fn spool_stdin() -> anyhow::Result<(PathBuf, std::fs::File)> {
    use std::os::fd::AsRawFd;
    let mut spool =
        tempfile::tempfile().context("cannot create a temporary file to hold standard input")?;
    std::io::copy(&mut std::io::stdin().lock(), &mut spool).context("reading standard input")?;
    spool.flush()?;
    let path = PathBuf::from(format!("/proc/self/fd/{}", spool.as_raw_fd()));
    Ok((path, spool))
}

#[cfg(not(target_os = "linux"))]
fn spool_stdin() -> anyhow::Result<(PathBuf, tempfile::NamedTempFile)> {
    let mut spool = tempfile::NamedTempFile::new()
        .context("cannot create a temporary file to hold standard input")?;
    std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
        .context("reading standard input")?;
    spool.as_file_mut().flush()?;
    Ok((spool.path().to_owned(), spool))
}
