//! The scheduler against the real MariaDB and RabbitMQ, with a hand-moved clock: every
//! slot dispatched exactly once, evenly spread first slots, no double dispatch by two
//! schedulers, no lost or duplicate slots across a RabbitMQ outage, stale checks expiring
//! into the dead-letter queue.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::amqp::{self, QueueType};
use crds::contract::{self, CheckBatch, CheckConfig, QueueNames};
use futures::StreamExt;
use lapin::{options::BasicConsumeOptions, types::FieldTable};
use operator::scheduler::{Clock, Metrics, Options, Publisher, Scheduler, slots};
use sentinel_testkit::{SeedMonitor, TcpProxy, TestDb, TestVhost, wait};

/// A clock the test moves.
#[derive(Clone)]
struct HandClock(Arc<Mutex<DateTime<Utc>>>);

impl HandClock {
    fn at(t: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(t)))
    }
    fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += TimeDelta::seconds(seconds);
    }
}

impl Clock for HandClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

/// Inserts `count` monitors with the given intervals (round robin); returns id → interval.
async fn add_monitors(db: &TestDb, count: u64, intervals_ms: &[u32]) -> BTreeMap<u64, u32> {
    let config = serde_json::to_string(&CheckConfig::from_spec(
        "shop",
        "m",
        1,
        &serde_json::from_value(serde_json::json!({"url": "http://127.0.0.1:9/"})).unwrap(),
    ))
    .unwrap();
    let seeds: Vec<SeedMonitor> = (1..=count)
        .map(|id| SeedMonitor {
            interval_ms: intervals_ms[usize::try_from(id).unwrap() % intervals_ms.len()],
            check_config: config.clone(),
            ..SeedMonitor::new(id, format!("m{id}"), "http://127.0.0.1:9/")
        })
        .collect();
    db.insert_monitors(&seeds, false).await;
    seeds.iter().map(|m| (m.id, m.interval_ms)).collect()
}

fn scheduler(db: &TestDb, amqp_url: &str, clock: HandClock) -> Scheduler<HandClock> {
    Scheduler::new(
        db.pool.clone(),
        Publisher::new(amqp_url, QueueType::Classic),
        clock,
        Options {
            batch_size: 50,
            slice_size: 500,
            tick: Duration::from_secs(1),
            lookahead: Duration::ZERO,
            workers: 1,
        },
        Metrics::register(&prometheus::Registry::new()),
    )
}

/// A check's identity: (monitor, slot).
type Identity = (u64, DateTime<Utc>);

/// Collects every (monitor, slot) published to `checks`, with the batch sizes.
struct Collector {
    seen: Arc<Mutex<Vec<Identity>>>,
    batches: Arc<Mutex<Vec<usize>>>,
    _connection: lapin::Connection,
}

impl Collector {
    async fn start(amqp_url: &str) -> Self {
        let connection = amqp::connect(amqp_url).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        amqp::declare_topology(&channel, QueueType::Classic)
            .await
            .unwrap();
        let mut consumer = channel
            .basic_consume(
                QueueNames::CHECKS.into(),
                "collector".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let (s, b) = (seen.clone(), batches.clone());
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let batch: CheckBatch = contract::decode("check batch", &delivery.data).unwrap();
                b.lock().unwrap().push(batch.checks.len());
                s.lock()
                    .unwrap()
                    .extend(batch.checks.iter().map(|c| (c.monitor_id, c.slot)));
            }
        });
        Self {
            seen,
            batches,
            _connection: connection,
        }
    }

    async fn wait_for(&self, count: usize) -> Vec<Identity> {
        wait::until(
            &format!("{count} dispatched checks"),
            Duration::from_secs(30),
            || async {
                let seen = self.seen.lock().unwrap().clone();
                (seen.len() >= count).then_some(seen)
            },
        )
        .await
    }
}

/// Every slot of every monitor in `(from, to]` as the design says they fall.
fn expected_slots(
    monitors: &BTreeMap<u64, u32>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Identity> {
    let mut all = Vec::new();
    for (id, interval) in monitors {
        let mut slot = slots::first_slot(*id, u64::from(*interval), from);
        while slot <= to {
            all.push((*id, slot));
            slot += TimeDelta::milliseconds(i64::from(*interval));
        }
    }
    all.sort();
    all
}

#[tokio::test]
async fn a_thousand_monitors_get_every_slot_exactly_once_and_spread_evenly() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let collector = Collector::start(&vhost.amqp_url).await;
    let monitors = add_monitors(&db, 1000, &[10_000, 30_000, 60_000, 300_000]).await;
    let clock = HandClock::at(start());
    let mut scheduler = scheduler(&db, &vhost.amqp_url, clock.clone());

    let first = scheduler.tick().await.unwrap();
    assert_eq!(
        (first.scheduled, first.dispatched),
        (1000, 0),
        "first slots lie in the future"
    );
    for _ in 0..600 {
        clock.advance(1);
        scheduler.tick().await.unwrap();
    }
    let expected = expected_slots(&monitors, start(), clock.now());
    let mut seen = collector.wait_for(expected.len()).await;
    seen.sort();
    let mut deduplicated = seen.clone();
    deduplicated.dedup();
    assert_eq!(
        seen.len(),
        deduplicated.len(),
        "a slot was dispatched twice"
    );
    assert_eq!(
        seen, expected,
        "every slot, exactly once, at its drift-free time"
    );
    assert!(collector.batches.lock().unwrap().iter().all(|n| *n <= 50));

    // The 10 s monitors' first slots fill the first 10 seconds evenly.
    let mut per_second = [0u32; 10];
    for (id, interval) in &monitors {
        if *interval == 10_000 {
            let first = slots::first_slot(*id, 10_000, start());
            per_second
                [usize::try_from((first - start()).num_milliseconds() - 1).unwrap() / 1000] += 1;
        }
    }
    assert!(
        per_second.iter().all(|n| (10..=45).contains(n)),
        "{per_second:?}"
    );
}

#[tokio::test]
async fn two_schedulers_racing_on_one_database_never_dispatch_a_slot_twice() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let collector = Collector::start(&vhost.amqp_url).await;
    let monitors = add_monitors(&db, 300, &[10_000, 20_000]).await;
    let clock = HandClock::at(start());
    let mut a = scheduler(&db, &vhost.amqp_url, clock.clone());
    let mut b = scheduler(&db, &vhost.amqp_url, clock.clone());
    for second in 0..=120 {
        if second > 0 {
            clock.advance(1);
        }
        let (x, y) = tokio::join!(a.tick(), b.tick());
        x.unwrap();
        y.unwrap();
    }
    let expected = expected_slots(&monitors, start(), clock.now());
    let mut seen = collector.wait_for(expected.len()).await;
    seen.sort();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_rabbitmq_outage_loses_no_slot_and_duplicates_none() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let collector = Collector::start(&vhost.amqp_url).await;
    let monitors = add_monitors(&db, 200, &[10_000, 30_000]).await;
    let proxy = TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let proxied = vhost
        .amqp_url
        .replace("127.0.0.1:5672", &proxy.addr.to_string());
    let clock = HandClock::at(start());
    let mut scheduler = scheduler(&db, &proxied, clock.clone());
    let mut failed_ticks = 0;
    for second in 0..=90 {
        if second > 0 {
            clock.advance(1);
        }
        if second == 40 {
            proxy.cut();
        }
        if second == 44 {
            proxy.restore();
        }
        if scheduler.tick().await.is_err() {
            failed_ticks += 1;
        }
    }
    assert!(
        failed_ticks >= 3,
        "the outage was felt ({failed_ticks} failed ticks)"
    );
    let expected = expected_slots(&monitors, start(), clock.now());
    collector.wait_for(expected.len()).await;
    // Give a duplicate, if any, time to arrive before comparing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut seen = collector.seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, expected, "late but complete, and nothing twice");
}

#[tokio::test]
async fn checks_waiting_longer_than_their_interval_expire_into_the_dead_letter_queue() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    // 200 ms intervals (below what validation allows, to keep the test short): nobody
    // consumes, so every batch outlives its interval.
    add_monitors(&db, 20, &[200]).await;
    let clock = HandClock::at(start());
    let mut scheduler = scheduler(&db, &vhost.amqp_url, clock.clone());
    scheduler.tick().await.unwrap();
    clock.advance(1);
    let report = scheduler.tick().await.unwrap();
    assert_eq!(report.dispatched, 20);
    let connection = amqp::connect(&vhost.amqp_url).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    wait::until(
        "the stale batch to be dead-lettered",
        Duration::from_secs(10),
        || async {
            let (dead, _) = amqp::queue_depth(&channel, QueueNames::CHECKS_DEAD)
                .await
                .ok()?;
            let (live, _) = amqp::queue_depth(&channel, QueueNames::CHECKS).await.ok()?;
            (dead == u32::try_from(report.batches).unwrap() && live == 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn paused_monitors_are_not_dispatched_and_a_changed_interval_is_replanned() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let collector = Collector::start(&vhost.amqp_url).await;
    add_monitors(&db, 2, &[10_000]).await;
    sqlx::query("UPDATE monitors SET paused = 1 WHERE id = 2")
        .execute(&db.pool)
        .await
        .unwrap();
    let clock = HandClock::at(start());
    let mut scheduler = scheduler(&db, &vhost.amqp_url, clock.clone());
    for _ in 0..=20 {
        scheduler.tick().await.unwrap();
        clock.advance(1);
    }
    let seen = collector.wait_for(2).await;
    let per_monitor: HashMap<u64, usize> = seen.iter().fold(HashMap::new(), |mut m, (id, _)| {
        *m.entry(*id).or_default() += 1;
        m
    });
    assert_eq!(
        per_monitor.get(&2),
        None,
        "a paused monitor is never dispatched"
    );
    assert_eq!(per_monitor[&1], 2);
}

#[tokio::test]
async fn the_lookahead_dispatches_slots_early_without_moving_them() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let collector = Collector::start(&vhost.amqp_url).await;
    add_monitors(&db, 1, &[10_000]).await;
    let slot = start() + TimeDelta::milliseconds(1500);
    sqlx::query("UPDATE monitors SET next_check_at = ? WHERE id = 1")
        .bind(slot.naive_utc())
        .execute(&db.pool)
        .await
        .unwrap();
    let clock = HandClock::at(start());
    let mut scheduler = Scheduler::new(
        db.pool.clone(),
        Publisher::new(&vhost.amqp_url, QueueType::Classic),
        clock.clone(),
        Options {
            lookahead: Duration::from_secs(2),
            ..Options::default()
        },
        Metrics::register(&prometheus::Registry::new()),
    );
    let report = scheduler.tick().await.unwrap();
    assert_eq!(report.dispatched, 1, "due within the look-ahead: sent now");
    let seen = collector.wait_for(1).await;
    assert_eq!(seen[0].1, slot, "the check keeps its slot");
    let next: chrono::NaiveDateTime =
        sqlx::query_scalar("SELECT next_check_at FROM monitors WHERE id = 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        next,
        (slot + TimeDelta::seconds(10)).naive_utc(),
        "drift-free"
    );
    assert_eq!(scheduler.tick().await.unwrap().dispatched, 0, "not twice");
}

/// Several workers in one scheduler split a tick's due slots into disjoint slices: a
/// backlog of 3,000 slots in one tick is dispatched once each, across many slices.
#[tokio::test]
async fn concurrent_workers_dispatch_a_backlog_once() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let collector = Collector::start(&vhost.amqp_url).await;
    let monitors = add_monitors(&db, 3000, &[10_000]).await;
    let clock = HandClock::at(start());
    let mut scheduler = Scheduler::new(
        db.pool.clone(),
        Publisher::new(&vhost.amqp_url, QueueType::Classic),
        clock.clone(),
        Options {
            batch_size: 50,
            slice_size: 100,
            workers: 4,
            ..Options::default()
        },
        Metrics::register(&prometheus::Registry::new()),
    );
    assert_eq!(scheduler.tick().await.unwrap().scheduled, 3000);
    // Every monitor's first slot lies within the next 10 s; two ticks 10 s apart find
    // all of them due at once.
    for _ in 0..2 {
        clock.advance(10);
        let report = scheduler.tick().await.unwrap();
        assert_eq!(report.dispatched, 3000);
    }
    let expected = expected_slots(&monitors, start(), clock.now());
    assert_eq!(expected.len(), 6000);
    let mut seen = collector.wait_for(expected.len()).await;
    seen.sort();
    assert_eq!(seen, expected, "every slot exactly once across the workers");
}
