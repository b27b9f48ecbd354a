//! `bench-faults`: the fault suite. Each scenario runs the whole pipeline as processes
//! (operator in standalone mode, checker with the notifier, ingestor) under load — N
//! monitors every 10 s against a local target, one of them failing with an AlertRule to a
//! local webhook — injects one fault in the middle of a 40 s window, and then counts:
//! slots of the window found in `ping_results` against those expected, duplicate rows, and
//! webhook deliveries against the one expected.
//!
//! ```text
//!  checker-kill     kill -9 the checker mid-batch, start a new one
//!  ingestor-kill    kill -9 the ingestor mid-batch, start a new one
//!  leader-kill      two operators on one database (MySQL lease); kill -9 the leader
//!  redis-restart    the pipeline's own Redis (another port, AOF on) stopped for 5 s
//!  mariadb-restart  the pipeline's own MariaDB (another port) stopped for 5 s
//!  rabbitmq-restart the pipeline's own RabbitMQ node (another port) stopped for 5 s
//!  malformed        200 garbage check batches and 200 garbage stream entries injected
//!  broken-manifest  a broken manifest file dropped into the directory
//! ```
//!
//! Restarted services are private instances on other ports with their own data
//! directories (the shared ones serve the other tests); otherwise each scenario has its
//! own database, vhost and key prefix. The private MariaDB and RabbitMQ are started the way
//! this (root) machine allows: `mariadbd --user=root`, `rabbitmq-server` as its own user. Build the release binaries first (`scripts/bench.sh` does), then
//! `target/release/bench-faults [--monitors N] [--only NAME]`. Writes
//! `bench/results/faults.json`.

#[path = "flags.rs"]
mod flags;
#[path = "procs.rs"]
mod procs;

use procs::{binary, free_port, signal};

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use chrono::{DurationRound, TimeDelta, Utc};
use common::amqp::{ConfirmingPublisher, Outgoing, QueueType};
use crds::contract::{Names, QueueNames};
use sentinel_testkit::{Reply, TargetServer, TestDb, TestRedis, TestVhost};
use serde_json::json;

const INTERVAL: i64 = 10;
const WINDOW: i64 = 40;
const SCENARIOS: [&str; 8] = [
    "checker-kill",
    "ingestor-kill",
    "leader-kill",
    "redis-restart",
    "mariadb-restart",
    "rabbitmq-restart",
    "malformed",
    "broken-manifest",
];

/// One scenario's world.
struct Rig {
    db_url: String,
    pool: sqlx::MySqlPool,
    _db: Option<TestDb>,
    _vhost: Option<TestVhost>,
    amqp_url: String,
    redis_url: String,
    prefix: String,
    dir: PathBuf,
    key: String,
    children: Vec<(String, Child)>,
    _receiver: TargetServer,
}

impl Rig {
    fn command(&self, name: &str) -> anyhow::Result<Command> {
        let (program, args): (&str, &[&str]) = match name {
            "operator" | "operator-2" => ("operator", &["run", "--manifests"]),
            other => (other, &[]),
        };
        let mut command = Command::new(binary(program)?);
        command.args(args);
        if program == "operator" {
            command.arg(&self.dir).env("SENTINEL_POLL_INTERVAL", "2s");
        }
        command
            .env("SENTINEL_DATABASE_URL", &self.db_url)
            .env("SENTINEL_AMQP_URL", &self.amqp_url)
            .env("SENTINEL_REDIS_URL", &self.redis_url)
            .env("SENTINEL_REDIS_PREFIX", &self.prefix)
            .env("SENTINEL_CREDENTIALS_KEY", &self.key)
            .env("SENTINEL_METRICS_ADDR", "127.0.0.1:0")
            .env("SENTINEL_LOG_LEVEL", "error")
            .env("SENTINEL_WITH_NOTIFIER", "true")
            .env("SENTINEL_INGEST_CLAIM_TIMEOUT", "5s")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Ok(command)
    }

    fn start(&mut self, name: &str) -> anyhow::Result<()> {
        let child = self.command(name)?.spawn()?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    fn kill(&mut self, name: &str) {
        if let Some(index) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.children.remove(index);
            signal(&child, "-KILL");
            let _ = child.wait();
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.pool)
            .await
            .unwrap_or(-1)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for (_, child) in &self.children {
            signal(child, "-TERM");
        }
        for (_, child) in &mut self.children {
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private Redis on another port, with an append-only file so a restart keeps the stream.
struct OwnRedis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16, dir: &Path) -> anyhow::Result<Child> {
        Ok(Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()?)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "-TERM");
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Outcome {
    scenario: &'static str,
    expected: i64,
    found: i64,
    duplicates: i64,
    notifications: usize,
    dead_lettered: String,
    note: String,
}

fn main() -> anyhow::Result<()> {
    let monitors = flags::number("--monitors", 2_000);
    let only = std::env::args().skip_while(|a| a != "--only").nth(1);
    tokio::runtime::Runtime::new()?.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port()?;
        let mut target = Command::new(binary("demo-target")?)
            .arg(port.to_string())
            .stderr(Stdio::null())
            .spawn()?;
        let mut outcomes = Vec::new();
        for scenario in SCENARIOS {
            if only.as_deref().is_some_and(|o| o != scenario) {
                continue;
            }
            println!("== {scenario}");
            match run(scenario, monitors, port).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => println!("   failed to run: {e:#}"),
            }
        }
        signal(&target, "-TERM");
        let _ = target.wait();
        print_table(&outcomes);
        let json: Vec<_> = outcomes
            .iter()
            .map(|o| {
                json!({"scenario": o.scenario, "expected": o.expected, "found": o.found,
                       "duplicates": o.duplicates, "notifications_expected": 1,
                       "notifications_sent": o.notifications, "dead_lettered": o.dead_lettered,
                       "note": o.note})
            })
            .collect();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/faults.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json!({"measured_at": Utc::now().to_rfc3339(), "monitors": monitors, "scenarios": json}))? + "\n",
        )?;
        println!("written to {}", path.display());
        Ok(())
    })
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "\n{:<16} {:>9} {:>9} {:>8} {:>10} {:>13}  dead-lettered / note",
        "scenario", "expected", "rows", "missing", "duplicates", "notifications"
    );
    for o in outcomes {
        println!(
            "{:<16} {:>9} {:>9} {:>8} {:>10} {:>10}/1  {} {}",
            o.scenario,
            o.expected,
            o.found,
            o.expected - o.found,
            o.duplicates,
            o.notifications,
            o.dead_lettered,
            o.note
        );
    }
}

async fn run(scenario: &'static str, monitors: usize, port: u16) -> anyhow::Result<Outcome> {
    let mut own_mariadb = None;
    let mut own_rabbitmq = None;
    let (db_url, pool, db) = if scenario == "mariadb-restart" {
        let server = OwnMariaDb::start(free_port()?).await?;
        let url = format!("mysql://root@127.0.0.1:{}/faults", server.port);
        own_mariadb = Some(server);
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await?;
        sentinel_testkit::MIGRATOR.run(&pool).await?;
        (url, pool, None)
    } else {
        let db = TestDb::create().await;
        (db.url.clone(), db.pool.clone(), Some(db))
    };
    let (amqp_url, vhost) = if scenario == "rabbitmq-restart" {
        let node = OwnRabbitMq::start(free_port()?).await?;
        let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", node.port);
        own_rabbitmq = Some(node);
        (url, None)
    } else {
        let vhost = TestVhost::create().await;
        (vhost.amqp_url.clone(), Some(vhost))
    };
    let shared_redis = TestRedis::create().await;
    let redis_dir = std::env::temp_dir().join(format!(
        "sentinel-faults-redis-{}",
        sentinel_testkit::unique_suffix()
    ));
    std::fs::create_dir_all(&redis_dir)?;
    let mut own_redis = None;
    let redis_url = if scenario == "redis-restart" {
        let redis_port = free_port()?;
        let child = OwnRedis::start(redis_port, &redis_dir)?;
        own_redis = Some(OwnRedis {
            port: redis_port,
            dir: redis_dir.clone(),
            child: Some(child),
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        format!("redis://127.0.0.1:{redis_port}")
    } else {
        shared_redis.url.clone()
    };
    let receiver = TargetServer::start().await;
    receiver.set("/hook", Reply::ok("ok"));
    let dir = std::env::temp_dir().join(format!(
        "sentinel-faults-{}",
        sentinel_testkit::unique_suffix()
    ));
    std::fs::create_dir_all(&dir)?;
    let mut manifests = String::new();
    for i in 0..monitors {
        let path = if i == 0 { "failing" } else { "healthy" };
        manifests.push_str(&format!(
            "---\napiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {{name: m{i}}}\n\
             spec: {{url: 'http://127.0.0.1:{port}/{path}', interval: {INTERVAL}s, timeout: 5s}}\n"
        ));
    }
    manifests.push_str(&format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: hook}}\nstringData: {{signingSecret: faults}}\n\
         ---\napiVersion: uptimesentinel.io/v1alpha1\nkind: NotificationChannel\nmetadata: {{name: hook}}\n\
         spec: {{type: webhook, webhook: {{url: '{}'}}, secretRef: {{name: hook}}}}\n\
         ---\napiVersion: uptimesentinel.io/v1alpha1\nkind: AlertRule\nmetadata: {{name: m0}}\n\
         spec: {{monitorRef: m0, channelRef: hook, type: Failure, failureThreshold: 1, cooldown: 1h}}\n",
        receiver.url("/hook")
    ));
    std::fs::write(dir.join("monitors.yaml"), manifests)?;
    let mut rig = Rig {
        amqp_url,
        db_url,
        pool,
        _db: db,
        _vhost: vhost,
        redis_url,
        prefix: shared_redis.prefix.clone(),
        dir,
        key: common::credentials::Sealer::generate_key(),
        children: Vec::new(),
        _receiver: receiver,
    };
    rig.start("operator")?;
    if scenario == "leader-kill" {
        rig.start("operator-2")?;
    }
    rig.start("checker")?;
    rig.start("ingestor")?;

    // Everything applied and checked once.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let checked = rig
            .count("SELECT COUNT(*) FROM monitor_state WHERE last_slot IS NOT NULL")
            .await;
        if checked == monitors as i64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {checked} of {monitors} monitors checked"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let t1 = Utc::now().duration_trunc(TimeDelta::seconds(1))? + TimeDelta::seconds(2);
    let t2 = t1 + TimeDelta::seconds(WINDOW);
    tokio::time::sleep(
        (t1 + TimeDelta::seconds(12) - Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
    .await;

    let mut note = String::new();
    let mut dead_lettered = String::new();
    match scenario {
        "checker-kill" | "ingestor-kill" => {
            let name = scenario.trim_end_matches("-kill");
            rig.kill(name);
            tokio::time::sleep(Duration::from_secs(2)).await;
            rig.start(name)?;
            note = format!("{name} killed (-9) and restarted after 2 s");
        }
        "leader-kill" => {
            let holder: String = sqlx::query_scalar("SELECT holder FROM leader_leases LIMIT 1")
                .fetch_one(&rig.pool)
                .await?;
            let pid: u32 = holder
                .rsplit('-')
                .nth(1)
                .and_then(|p| p.parse().ok())
                .context("leader pid")?;
            let name = rig
                .children
                .iter()
                .find(|(_, c)| c.id() == pid)
                .map(|(n, _)| n.clone())
                .context("the leader is not ours")?;
            let killed = Instant::now();
            rig.kill(&name);
            loop {
                let new: Option<String> = sqlx::query_scalar(
                    "SELECT holder FROM leader_leases WHERE expires_at > NOW(3) LIMIT 1",
                )
                .fetch_optional(&rig.pool)
                .await?;
                if new.is_some_and(|h| h != holder) || killed.elapsed() > Duration::from_secs(60) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            note = format!(
                "leader killed; the other took over after {:.1} s (slots due meanwhile are dispatched once late, older ones skipped by design)",
                killed.elapsed().as_secs_f64()
            );
        }
        "redis-restart" => {
            let redis = own_redis.as_mut().context("own redis")?;
            if let Some(mut child) = redis.child.take() {
                signal(&child, "-TERM");
                let _ = child.wait();
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            redis.child = Some(OwnRedis::start(redis.port, &redis.dir)?);
            note = "Redis stopped for 5 s (SIGTERM, AOF kept) and started again".into();
        }
        "mariadb-restart" => {
            let server = own_mariadb.as_mut().context("own mariadb")?;
            server.stop();
            tokio::time::sleep(Duration::from_secs(5)).await;
            server.restart().await?;
            note = "MariaDB stopped for 5 s (SIGTERM) and started again".into();
        }
        "rabbitmq-restart" => {
            let node = own_rabbitmq.as_mut().context("own rabbitmq")?;
            node.stop().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            node.restart().await?;
            note =
                "RabbitMQ stopped for 5 s (SIGTERM, durable queues kept) and started again".into();
        }
        "malformed" => {
            let mut publisher =
                ConfirmingPublisher::new(&rig.amqp_url, QueueType::Classic, QueueNames::EXCHANGE);
            let ids: Vec<String> = (0..200).map(|i| format!("garbage-{i}")).collect();
            let messages: Vec<Outgoing<'_>> = ids
                .iter()
                .map(|id| Outgoing {
                    routing_key: QueueNames::CHECKS,
                    body: b"{not json",
                    expiration_ms: None,
                    message_id: id,
                })
                .collect();
            publisher.publish(&messages).await?;
            let client = redis::Client::open(rig.redis_url.as_str())?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            let stream = Names::new(rig.prefix.clone()).telemetry_stream();
            let mut pipe = redis::pipe();
            for i in 0..200 {
                pipe.cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("r")
                    .arg(format!("garbage {i}"))
                    .ignore();
            }
            pipe.query_async::<()>(&mut connection).await?;
            note = "200 malformed batches + 200 malformed stream entries".into();
        }
        "broken-manifest" => {
            std::fs::write(
                rig.dir.join("broken.yaml"),
                "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {name: bad}\nspec: {url: 'not a url', interval: 1s}\n---\n: : :\n",
            )?;
            note = "broken.yaml added (invalid spec + unparsable document)".into();
        }
        _ => {}
    }

    tokio::time::sleep((t2 - Utc::now()).to_std().unwrap_or_default()).await;
    let window = format!(
        "FROM ping_results WHERE scheduled_at >= '{}' AND scheduled_at < '{}'",
        t1.naive_utc(),
        t2.naive_utc()
    );
    let expected = monitors as i64 * WINDOW / INTERVAL;
    let settle = Instant::now() + Duration::from_secs(60);
    let mut found = 0;
    while Instant::now() < settle {
        found = rig.count(&format!("SELECT COUNT(*) {window}")).await;
        if found >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let distinct = rig
        .count(&format!(
            "SELECT COUNT(*) FROM (SELECT DISTINCT monitor_id, scheduled_at {window}) d"
        ))
        .await;
    if scenario == "rabbitmq-restart" {
        let connection = common::amqp::connect(&rig.amqp_url).await?;
        let channel = connection.create_channel().await?;
        let (expired, _) = common::amqp::queue_depth(&channel, QueueNames::CHECKS_DEAD).await?;
        dead_lettered = format!("{expired} checks expired in the queue (checks.dead);");
    }
    if scenario == "malformed" {
        let client = redis::Client::open(rig.redis_url.as_str())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        let dead: i64 = redis::cmd("XLEN")
            .arg(Names::new(rig.prefix.clone()).telemetry_dead_stream())
            .query_async(&mut connection)
            .await?;
        let connection = common::amqp::connect(&rig.amqp_url).await?;
        let channel = connection.create_channel().await?;
        let (checks_dead, _) = common::amqp::queue_depth(&channel, QueueNames::CHECKS_DEAD).await?;
        dead_lettered = format!("checks.dead {checks_dead}, telemetry:dead {dead};");
    }
    if scenario == "broken-manifest" {
        let output = Command::new(binary("operator")?)
            .arg("validate")
            .arg(&rig.dir)
            .output()?;
        let reported = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.contains("broken.yaml"))
            .count()
            + String::from_utf8_lossy(&output.stderr)
                .lines()
                .filter(|l| l.contains("broken.yaml"))
                .count();
        dead_lettered = format!(
            "validate exit {}, {reported} problems reported for broken.yaml;",
            output.status.code().unwrap_or(-1)
        );
    }
    let notifications = rig._receiver.requests_to("/hook").len();
    let outcome = Outcome {
        scenario,
        expected,
        found,
        duplicates: found - distinct,
        notifications,
        dead_lettered,
        note,
    };
    println!(
        "   expected {} rows, found {}, duplicates {}, notifications {}/1  {} {}",
        outcome.expected,
        outcome.found,
        outcome.duplicates,
        outcome.notifications,
        outcome.dead_lettered,
        outcome.note
    );
    drop(rig);
    drop(own_redis);
    drop(own_mariadb);
    drop(own_rabbitmq);
    let _ = std::fs::remove_dir_all(&redis_dir);
    Ok(outcome)
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
async fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "nothing listens on port {port}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// A private MariaDB on another port with its own data directory.
struct OwnMariaDb {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnMariaDb {
    async fn start(port: u16) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "sentinel-faults-mariadb-{}",
            sentinel_testkit::unique_suffix()
        ));
        std::fs::create_dir_all(&dir)?;
        let status = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "mariadb-install-db failed");
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.restart().await?;
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&format!("mysql://root@127.0.0.1:{port}"))
            .await?;
        sqlx::query("CREATE DATABASE faults CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            .execute(&pool)
            .await?;
        Ok(server)
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        let child = Command::new("mariadbd")
            .args([
                "--no-defaults",
                "--user=root",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
            ])
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", self.dir.join("sock").display()))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
            .arg("--innodb-buffer-pool-size=128M")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(30)).await
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "-TERM");
            let _ = child.wait();
        }
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private RabbitMQ node on another port with its own data directory (no plugins; the
/// default vhost and `guest`, which only works from localhost).
struct OwnRabbitMq {
    port: u16,
    dir: PathBuf,
    node: String,
}

impl OwnRabbitMq {
    async fn start(port: u16) -> anyhow::Result<Self> {
        let suffix = sentinel_testkit::unique_suffix();
        let dir = std::env::temp_dir().join(format!("sentinel-faults-rabbitmq-{suffix}"));
        std::fs::create_dir_all(dir.join("mnesia"))?;
        std::fs::create_dir_all(dir.join("log"))?;
        std::fs::write(dir.join("plugins"), "[].\n")?;
        // The server drops to the `rabbitmq` user when started as root.
        let _ = Command::new("chown")
            .args(["-R", "rabbitmq:rabbitmq"])
            .arg(&dir)
            .status();
        let mut node = Self {
            port,
            dir,
            node: format!("faults-{suffix}@localhost"),
        };
        node.restart().await?;
        Ok(node)
    }

    async fn restart(&mut self) -> anyhow::Result<()> {
        let dist = free_port()?;
        Command::new("rabbitmq-server")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", self.dir.join("plugins"))
            .env("RABBITMQ_PID_FILE", self.dir.join("pid"))
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq"))
            .env(
                "RABBITMQ_ADVANCED_CONFIG_FILE",
                self.dir.join("advanced.config"),
            )
            .env("ERL_CRASH_DUMP", self.dir.join("erl_crash.dump"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        wait_for_port(self.port, Duration::from_secs(60)).await
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("pid"))
            .ok()
            .map(|p| p.trim().to_string())
    }

    async fn stop(&mut self) {
        let Some(pid) = self.pid() else { return };
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for OwnRabbitMq {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            for _ in 0..100 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
