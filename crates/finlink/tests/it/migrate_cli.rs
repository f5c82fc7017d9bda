//! `finlink migrate`: the built binary run as a process against a test server's database (a
//! SQLite data directory, or a fresh PostgreSQL schema), with the test server's sandbox as the
//! platform (its OAuth server and data API are what the canary and the refreshes talk to).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use futures::StreamExt;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::both_engines;
use crate::harness::TestServer;

/// The binary, with the test server's database, master keys and URL (the sandbox lives there).
fn cli(ts: &TestServer) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_finlink"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FINLINK_") {
            c.env_remove(k);
        }
    }
    c.env("FINLINK_DATA_DIR", &ts.config.data_dir)
        .env("FINLINK_PUBLIC_URL", &ts.base)
        .env("FINLINK_LOG", "warn")
        .stdin(Stdio::null());
    if let Some(url) = &ts.config.database_url {
        c.env("FINLINK_DATABASE_URL", url);
    }
    if let Some(s) = &ts.config.database_schema {
        c.env("FINLINK_DATABASE_SCHEMA", s);
    }
    if let Some(k) = &ts.config.master_keys {
        c.env("FINLINK_MASTER_KEYS", k.expose_secret());
    }
    c
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn sandbox(ts: &TestServer) -> &finlink_sandbox::Sandbox {
    ts.server.as_ref().unwrap().sandbox.as_ref().unwrap()
}

/// `n` real sandbox grants, as rows in finlink's shape.
async fn minted_rows(ts: &TestServer, n: usize, prefix: &str) -> Vec<BTreeMap<String, String>> {
    let sb = sandbox(ts).clone();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let g = sb.mint(&format!("{prefix} Company {i}")).await.unwrap();
        let mut row = BTreeMap::new();
        row.insert("companyRef".to_owned(), format!("{prefix}-{i}"));
        row.insert("companyName".to_owned(), format!("{prefix} Company {i}"));
        row.insert("integration".to_owned(), "sandbox".to_owned());
        row.insert("accessToken".to_owned(), g.access_token);
        row.insert("refreshToken".to_owned(), g.refresh_token);
        row.insert("tenantId".to_owned(), g.tenant_id);
        row.insert("expiresAt".to_owned(), g.expires_at);
        out.push(row);
    }
    out
}

/// Rows with made-up tokens (for runs without a canary: nothing calls the platform).
fn synthetic_rows(n: usize, prefix: &str) -> Vec<BTreeMap<String, String>> {
    (0..n)
        .map(|i| {
            let mut row = BTreeMap::new();
            row.insert("companyRef".to_owned(), format!("{prefix}-{i}"));
            row.insert("companyName".to_owned(), format!("{prefix} Company {i}"));
            row.insert("integration".to_owned(), "sandbox".to_owned());
            row.insert(
                "accessToken".to_owned(),
                format!("sbx_at_synthetic_{prefix}_{i}"),
            );
            row.insert(
                "refreshToken".to_owned(),
                format!("sbx_rt_synthetic_{prefix}_{i}"),
            );
            row.insert("tenantId".to_owned(), format!("tenant-{i}"));
            row
        })
        .collect()
}

fn write_jsonl(path: &Path, rows: &[BTreeMap<String, String>]) {
    let mut s = String::new();
    for r in rows {
        s.push_str(&serde_json::to_string(r).unwrap());
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn write_csv(path: &Path, rows: &[BTreeMap<String, String>]) {
    let cols: Vec<&String> = rows[0].keys().collect();
    let mut s = cols
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",");
    s.push_str(",tags\n");
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<&str> = cols.iter().map(|c| r[*c].as_str()).collect();
        s.push_str(&line.join(","));
        s.push_str(&format!(",\"region=eu;n={}\"\n", i % 7));
    }
    std::fs::write(path, s).unwrap();
}

fn report_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn total_companies(ts: &TestServer) -> u64 {
    let (s, body) = ts.get("/companies?pageSize=1").await;
    assert_eq!(s, 200, "{body}");
    body["totalResults"].as_u64().unwrap()
}

async fn all_connections(ts: &TestServer) -> u64 {
    ts.app()
        .store
        .connection_status_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .sum()
}

async fn linked_connections(ts: &TestServer) -> u64 {
    ts.app()
        .store
        .connection_status_counts()
        .await
        .unwrap()
        .into_iter()
        .filter(|(s, _)| s == "Linked")
        .map(|(_, n)| n)
        .sum()
}

fn dir_of(ts: &TestServer) -> PathBuf {
    ts.config.data_dir.clone()
}

/// Imports 10,000 sandbox-minted grants from `format`, then checks counts, the report, that no
/// token leaked to the output, the report or the database, and that every connection refreshes.
async fn ten_thousand(ts: &TestServer, csv: bool) {
    const N: usize = 10_000;
    let rows = minted_rows(ts, N, if csv { "csv" } else { "jl" }).await;
    let dir = dir_of(ts);
    let input = dir.join(if csv { "in.csv" } else { "in.jsonl" });
    if csv {
        write_csv(&input, &rows);
    } else {
        write_jsonl(&input, &rows);
    }
    let report = dir.join("report.jsonl");
    let mut c = cli(ts);
    c.args(["migrate", "import"])
        .arg(&input)
        .args(["--canary", "2", "--report"])
        .arg(&report);
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("migrated 10000 of 10000 rows: 10000 created, 0 updated, 0 unchanged, 0 duplicate, 0 invalid, 0 failed; 10000 companies created"),
        "{last}"
    );
    assert!(stderr.contains("canary row 1: connection"), "{stderr}");
    assert!(
        stderr.contains("token refreshed, company pulled"),
        "{stderr}"
    );
    // Exact counts.
    assert_eq!(total_companies(ts).await, N as u64);
    assert_eq!(linked_connections(ts).await, N as u64);
    // The report: every row once, in order, each with its ids.
    let lines = report_lines(&report);
    assert_eq!(lines.len(), N);
    let mut conns = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["row"], json!(i + 1));
        assert_eq!(l["outcome"], "created", "{l}");
        assert!(l["companyId"].is_string() && l["error"].is_null(), "{l}");
        conns.insert((
            l["companyId"].as_str().unwrap().to_owned(),
            l["connectionId"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(conns.len(), N);
    // No token anywhere: output, report, database.
    let report_text = std::fs::read_to_string(&report).unwrap();
    let dump = ts.database_dump().await;
    for hay in [&stdout, &stderr, &report_text, &dump] {
        assert!(!hay.contains("sbx_at_") && !hay.contains("sbx_rt_"));
    }
    for r in rows.iter().step_by(997) {
        assert!(!dump.contains(&r["accessToken"][7..]));
    }
    // Every imported connection refreshes against the sandbox (the canaries were refreshed
    // already; refreshing again uses their rotated tokens).
    let app = ts.app().clone();
    let before = sandbox(ts).stats().refresh_requests;
    let outcomes: Vec<String> = futures::stream::iter(conns)
        .map(|(co, conn)| {
            let app = app.clone();
            async move {
                let client = app.first_client().await.unwrap().unwrap().id;
                let r = app
                    .refresh_now(
                        &finlink_app::migration::Actor::Cli,
                        client,
                        finlink_domain::ids::CompanyId::parse(&co).unwrap(),
                        finlink_domain::ids::ConnectionId::parse(&conn).unwrap(),
                    )
                    .await
                    .unwrap();
                format!("{r:?}")
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        outcomes.iter().all(|o| o.starts_with("Refreshed")),
        "{:?}",
        outcomes.iter().find(|o| !o.starts_with("Refreshed"))
    );
    assert!(sandbox(ts).stats().refresh_requests - before >= N as u64);
}

async fn ten_thousand_jsonl(ts: &TestServer) {
    ten_thousand(ts, false).await;
}
both_engines!(ten_thousand_jsonl);

async fn ten_thousand_csv(ts: &TestServer) {
    ten_thousand(ts, true).await;
}
both_engines!(ten_thousand_csv);

/// Each kind of invalid row is found by `--dry-run`, with its row number and field; nothing is
/// written, and an import without `--skip-invalid` writes nothing either.
async fn dry_run_finds_every_invalid_row(ts: &TestServer) {
    let dir = dir_of(ts);
    let good = |i: usize| {
        json!({"companyRef": format!("ok-{i}"), "companyName": format!("Ok {i}"), "integration": "sandbox",
               "accessToken": format!("sbx_at_x{i}"), "refreshToken": format!("sbx_rt_x{i}")})
    };
    let mut lines: Vec<String> = vec![
        good(1).to_string(),
        // 2: unknown integration
        json!({"companyRef": "b", "integration": "nosuch", "accessToken": "a", "refreshToken": "r"}).to_string(),
        // 3: a required field missing
        json!({"companyRef": "c", "integration": "sandbox", "accessToken": "a"}).to_string(),
        // 4: expiry not parseable
        json!({"companyRef": "d", "integration": "sandbox", "accessToken": "a", "refreshToken": "r", "expiresAt": "tomorrow"}).to_string(),
        // 5: no company
        json!({"integration": "sandbox", "accessToken": "a", "refreshToken": "r"}).to_string(),
        // 6: not JSON
        String::from("{not json"),
        // 7: a field the integration does not have
        json!({"companyRef": "g", "integration": "sandbox", "accessToken": "a", "refreshToken": "r", "password": "p"}).to_string(),
        // 8: the same company and integration as row 1 with other tokens
        json!({"companyRef": "ok-1", "integration": "sandbox", "accessToken": "other", "refreshToken": "other"}).to_string(),
        // 9: an oversized value
        json!({"companyRef": "i", "integration": "sandbox", "accessToken": "a".repeat(20_000), "refreshToken": "r"}).to_string(),
        // 10: a duplicate of row 1 (same tokens): not an error, reported as a duplicate
        good(1).to_string(),
        // 11: bad tags
        json!({"companyRef": "k", "integration": "sandbox", "accessToken": "a", "refreshToken": "r", "tags": "novalue"}).to_string(),
        // 12: an unknown company id
        json!({"companyId": "01a23343-3421-7636-9a4c-2d3ff59e51fc", "integration": "sandbox", "accessToken": "a", "refreshToken": "r"}).to_string(),
    ];
    lines.push(good(13).to_string());
    let input = dir.join("bad.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let report = dir.join("dry.csv");
    let mut c = cli(ts);
    c.args(["migrate", "import"])
        .arg(&input)
        .args(["--dry-run", "--report"])
        .arg(&report);
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    for (row, field) in [
        (2, "integration"),
        (3, "refreshToken"),
        (4, "expiresAt"),
        (5, "companyRef"),
        (6, "not valid JSON"),
        (7, "password"),
        (8, "credentials: row 1 has other tokens"),
        (9, "accessToken"),
        (11, "tags"),
        (12, "companyId"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("row {row}: ")) && l.contains(field)),
            "row {row} ({field}) not reported:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("row 1:") && !stderr.contains("row 10:") && !stderr.contains("row 13:")
    );
    assert!(
        stdout.contains("dry run: 13 rows, 2 valid, 10 invalid, 1 duplicate"),
        "{stdout}"
    );
    let rep = std::fs::read_to_string(&report).unwrap();
    assert_eq!(rep.lines().count(), 14, "{rep}");
    assert!(
        rep.lines()
            .nth(10)
            .unwrap()
            .starts_with("10,,,duplicate,duplicate of row 1"),
        "{rep}"
    );
    assert_eq!(total_companies(ts).await, 0);
    // Without --dry-run: the same errors, nothing written.
    let mut c = cli(ts);
    c.args(["migrate", "import"]).arg(&input);
    let out = run(c).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("10 of 13 rows are invalid, so nothing was written"),
        "{stderr}"
    );
    assert_eq!(total_companies(ts).await, 0);
    let mut c = cli(ts);
    c.args(["migrate", "status"]);
    let (stdout, _) = text(&run(c).await);
    assert!(stdout.contains("no migration runs yet"), "{stdout}");
    // With --skip-invalid the two good rows are imported and every row is reported.
    let report = dir.join("skip.jsonl");
    let mut c = cli(ts);
    c.args([
        "migrate",
        "import",
        "--skip-invalid",
        "--canary",
        "0",
        "--report",
    ])
    .arg(&report)
    .arg(&input);
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 created, 0 updated, 0 unchanged, 1 duplicate, 10 invalid"),
        "{stdout}"
    );
    assert_eq!(report_lines(&report).len(), 13);
    assert_eq!(total_companies(ts).await, 2);
}
both_engines!(dry_run_finds_every_invalid_row);

/// A canary the platform rejects stops the run before any other row is written; the canary
/// stays (a rerun checks it again and continues) or is removed with --rollback-canary.
async fn failing_canary_stops_the_run(ts: &TestServer) {
    let dir = dir_of(ts);
    let rows = minted_rows(ts, 20, "cn").await;
    let input = dir.join("canary.jsonl");
    write_jsonl(&input, &rows);
    let report = dir.join("canary-report.jsonl");
    sandbox(ts).inject(finlink_sandbox::Failure::InvalidGrant, 1);
    let mut c = cli(ts);
    c.args(["migrate", "import", "--report"])
        .arg(&report)
        .arg(&input);
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("canary row 1:") && stderr.contains("rejected"),
        "{stderr}"
    );
    assert!(stderr.contains("no other row was written"), "{stderr}");
    assert!(stdout.contains("canary failed"), "{stdout}");
    assert_eq!(total_companies(ts).await, 1);
    // The canary's connection is there (Deauthorized by the rejected refresh); no other.
    assert_eq!(all_connections(ts).await, 1);
    assert_eq!(report_lines(&report).len(), 1);
    let mut c = cli(ts);
    c.args(["migrate", "status"]);
    let (stdout, _) = text(&run(c).await);
    assert!(stdout.contains("canary_failed"), "{stdout}");
    // The cause is gone: the same command checks the canary again and imports the rest.
    let mut c = cli(ts);
    c.args(["migrate", "import", "--report"])
        .arg(&report)
        .arg(&input);
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("resuming run"), "{stderr}");
    assert!(
        stdout.contains("migrated 20 of 20 rows: 20 created"),
        "{stdout}"
    );
    assert_eq!(total_companies(ts).await, 20);
    assert_eq!(linked_connections(ts).await, 20);
    assert_eq!(report_lines(&report).len(), 20);

    // --rollback-canary removes the canary.
    let rows = minted_rows(ts, 5, "rb").await;
    let input = dir.join("rollback.jsonl");
    write_jsonl(&input, &rows);
    sandbox(ts).inject(finlink_sandbox::Failure::InvalidGrant, 1);
    let mut c = cli(ts);
    c.args(["migrate", "import", "--rollback-canary"])
        .arg(&input);
    let out = run(c).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("were removed"), "{stderr}");
    assert_eq!(total_companies(ts).await, 20);
    assert_eq!(linked_connections(ts).await, 20);

    // A canary whose token was refreshed but whose test pull fails is not rolled back: the
    // refresh may have rotated the token, and the file's one is spent.
    let rows = minted_rows(ts, 3, "kp").await;
    let input = dir.join("keep.jsonl");
    write_jsonl(&input, &rows);
    sandbox(ts).inject_data_failure(
        finlink_sandbox::DataFailure::new(finlink_sandbox::DataFailureKind::ServerError, 10_000)
            .for_type(finlink_sandbox::DataType::Company),
    );
    let mut c = cli(ts);
    c.args([
        "migrate",
        "import",
        "--rollback-canary",
        "--canary-timeout",
        "2",
    ])
    .arg(&input);
    let out = run(c).await;
    sandbox(ts).clear_data_failures();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("Not rolled back"), "{stderr}");
    assert_eq!(total_companies(ts).await, 21, "the canary's company stays");
    assert_eq!(
        linked_connections(ts).await,
        21,
        "and its refreshed connection"
    );
}
both_engines!(failing_canary_stops_the_run);

/// What a client's connections look like, independent of ids and times: per company reference,
/// the name, tags, integration, settings and decrypted tokens.
async fn normalized_state(ts: &TestServer) -> BTreeMap<String, String> {
    let app = ts.app();
    let client = app.first_client().await.unwrap().unwrap().id;
    let mut out = BTreeMap::new();
    let mut rows = Vec::new();
    app.migration_export(client, true, &mut |row| {
        rows.push(serde_json::to_string(row).unwrap());
        Ok(())
    })
    .await
    .unwrap();
    for r in rows {
        let v: Value = serde_json::from_str(&r).unwrap();
        let key = v["companyRef"].as_str().unwrap().to_owned();
        assert!(out.insert(key, r).is_none(), "a company reference twice");
    }
    out
}

/// SIGKILL the import at several points and rerun: the end state is the uninterrupted run's.
async fn kill_and_resume(ts: &TestServer) {
    const N: usize = 10_000;
    let dir = dir_of(ts);
    let rows = synthetic_rows(N, "kr");
    let input = dir.join("kill.jsonl");
    write_jsonl(&input, &rows);
    let args = |c: &mut Command| {
        c.args(["migrate", "import", "--canary", "0", "--batch-size", "250"])
            .arg(&input);
    };
    let app = ts.app().clone();
    let mut kills = 0;
    for threshold in [1u64, 3000, 6500] {
        let mut c = cli(ts);
        args(&mut c);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        // Wait until the run has committed past the threshold, then kill it mid-run.
        loop {
            let runs = app.migration_runs(1).await.unwrap();
            let done = runs.first().map_or(0, |r| r.watermark);
            if done >= threshold {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the import ended ({status}) before row {threshold}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let run = app.migration_runs(1).await.unwrap().remove(0);
        assert_eq!(run.status, "running");
        assert!(
            run.watermark < N as u64,
            "killed too late: {}",
            run.watermark
        );
        // Exactly the committed rows are there: no half batch.
        assert_eq!(total_companies(ts).await, run.watermark);
        assert_eq!(run.counts.created, run.watermark);
    }
    assert_eq!(kills, 3);
    let report = dir.join("kill-report.jsonl");
    let mut c = cli(ts);
    args(&mut c);
    c.arg("--report").arg(&report);
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("resuming run"), "{stderr}");
    assert!(
        stdout.contains("migrated 10000 of 10000 rows: 10000 created, 0 updated, 0 unchanged"),
        "{stdout}"
    );
    let runs = app.migration_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1, "the reruns continued one run");
    assert_eq!(total_companies(ts).await, N as u64);
    assert_eq!(linked_connections(ts).await, N as u64);
    let lines = report_lines(&report);
    assert_eq!(lines.len(), N);
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| l["row"] == json!(i + 1) && l["outcome"] == "created")
    );
    let jobs: u64 = ts
        .app()
        .store
        .job_state_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .sum();
    // One refresh per connection and the run's one schedule plan: nothing twice.
    assert_eq!(jobs, N as u64 + 1);

    // The same rows imported without interruption into a fresh server: the same state.
    let fresh = TestServer::start(ts.engine).await;
    let input2 = dir_of(&fresh).join("kill.jsonl");
    std::fs::copy(&input, &input2).unwrap();
    let mut c = cli(&fresh);
    c.args(["migrate", "import", "--canary", "0", "--batch-size", "250"])
        .arg(&input2);
    let out = run(c).await;
    assert!(out.status.success(), "{:?}", text(&out));
    let a = normalized_state(ts).await;
    let b = normalized_state(&fresh).await;
    assert_eq!(a.len(), N);
    assert!(a == b, "the resumed run differs from the uninterrupted one");
    for (i, r) in rows.iter().enumerate().step_by(499) {
        let got: Value = serde_json::from_str(&a[&format!("kr-{i}")]).unwrap();
        assert_eq!(got["accessToken"], r["accessToken"].as_str());
    }
    fresh.stop().await;
    // A rerun of the finished input changes nothing.
    let mut c = cli(ts);
    args(&mut c);
    let out = run(c).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("0 created, 0 updated, 10000 unchanged"),
        "{stdout}"
    );
    assert_eq!(total_companies(ts).await, N as u64);
}
both_engines!(kill_and_resume);

/// The progress bar as a user sees it: the import under a pseudo-terminal (`script`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bar_on_a_terminal() {
    // util-linux's script(1) is on every Debian machine: a missing one fails the test rather
    // than passing it unseen.
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "script(1) (util-linux) is needed to run the import under a pseudo-terminal"
    );
    let ts = TestServer::start(crate::harness::Engine::Sqlite).await;
    let dir = dir_of(&ts);
    let input = dir.join("tty.jsonl");
    write_jsonl(&input, &synthetic_rows(20_000, "tty"));
    let mut c = cli(&ts);
    let cmd = format!(
        "{} migrate import --canary 0 --batch-size 500 {}",
        env!("CARGO_BIN_EXE_finlink"),
        input.display()
    );
    c.args(["-qfec", &cmd, "/dev/null"]);
    let mut c2 = Command::new("script");
    c2.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => c2.env(k, v),
            None => c2.env_remove(k),
        };
    }
    c2.env("TERM", "xterm").stdin(Stdio::null());
    let out = run(c2).await;
    let (all, err) = text(&out);
    assert!(out.status.success(), "{all}{err}");
    // The bar: its label, the count, the rate and the ETA; then the summary line.
    assert!(all.contains("importing ["), "{all}");
    assert!(all.contains("/20000 rows"), "{all}");
    assert!(all.contains("/s, ETA "), "{all}");
    assert!(all.contains("20000/20000 rows"), "{all}");
    let last = all.trim_end().lines().last().unwrap();
    assert!(
        last.contains("migrated 20000 of 20000 rows: 20000 created"),
        "{last}"
    );
    ts.stop().await;
}

/// Export writes the import format: without secrets by default; with them only to a 0600 file.
async fn export_round_trips(ts: &TestServer) {
    let dir = dir_of(ts);
    let input = dir.join("exp.jsonl");
    write_jsonl(&input, &synthetic_rows(30, "ex"));
    let mut c = cli(ts);
    c.args(["migrate", "import", "--canary", "0"]).arg(&input);
    assert!(run(c).await.status.success());
    let mut c = cli(ts);
    c.args(["migrate", "export"]);
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 30);
    assert!(!stdout.contains("sbx_"), "{stdout}");
    let mut c = cli(ts);
    c.args(["migrate", "export", "--include-secrets"]);
    assert!(!run(c).await.status.success());
    let file = dir.join("export.csv");
    let mut c = cli(ts);
    c.args(["migrate", "export", "--include-secrets", "-o"])
        .arg(&file);
    assert!(run(c).await.status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let exported = std::fs::read_to_string(&file).unwrap();
    assert!(exported.contains("sbx_at_synthetic_ex_7"));
    // Into another finlink: the same connections.
    let other = TestServer::start(ts.engine).await;
    let copy = dir_of(&other).join("export.csv");
    std::fs::copy(&file, &copy).unwrap();
    let mut c = cli(&other);
    c.args(["migrate", "import", "--canary", "0"]).arg(&copy);
    let out = run(c).await;
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(normalized_state(ts).await, normalized_state(&other).await);
    other.stop().await;
    // The checklist names the steps.
    let mut c = cli(ts);
    c.args(["migrate", "checklist", "xero"]);
    let (stdout, _) = text(&run(c).await);
    for step in [
        "callback URL",
        "Stop syncing",
        "--dry-run",
        "canary",
        "resumes",
    ] {
        assert!(stdout.contains(step), "{step}: {stdout}");
    }
}
both_engines!(export_round_trips);

/// Standard input works too (spooled, so it can be read twice).
async fn standard_input(ts: &TestServer) {
    let dir = dir_of(ts);
    let input = dir.join("stdin.csv");
    write_csv(&input, &synthetic_rows(50, "si"));
    let mut c = cli(ts);
    c.args(["migrate", "import", "-", "--canary", "0"])
        .stdin(std::fs::File::open(&input).unwrap());
    let out = run(c).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("migrated 50 of 50 rows: 50 created"),
        "{stdout}"
    );
    let (_, co) = ts.get("/companies?pageSize=1").await;
    assert_eq!(co["results"][0]["tags"]["region"], "eu", "{co}");
    assert_eq!(co["totalResults"], 50, "{co}");
}
both_engines!(standard_input);
