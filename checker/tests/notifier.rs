//! The notifier against local receivers, the real RabbitMQ and MariaDB: what each channel
//! sends, retries until success, dead-lettering, and no second delivery after a
//! redelivery or a notifier killed between sending and acking.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use checker::{
    metrics::NotifierMetrics,
    notify::{Notifier, Options, Outcome, outbox},
};
use chrono::{TimeZone, Utc};
use common::{
    amqp::{self, ConfirmingPublisher, QueueType},
    credentials::Sealer,
};
use crds::contract::{self, ErrorKind, MonitorRef, Notification, NotificationKind, QueueNames};
use futures::{FutureExt, StreamExt, future::Shared};
use lapin::{options::BasicConsumeOptions, types::FieldTable};
use prometheus::Registry;
use ring::hmac;
use sentinel_testkit::{
    Reply, SeedMonitor, SmtpSink, TargetServer, TestDb, TestVhost, channel_uid, wait,
};
use serde_json::{Value, json};

type Stop = Shared<futures::future::BoxFuture<'static, ()>>;

const WAIT: Duration = Duration::from_secs(20);

fn sealed(sealer: &Sealer, channel: &str, values: &[(&str, &str)]) -> Option<String> {
    let values: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    Some(sealer.seal(&channel_uid(channel), &values))
}

fn notification(key: &str, channel_id: u64, kind: NotificationKind) -> Notification {
    Notification {
        v: contract::VERSION,
        key: key.into(),
        kind,
        level: (kind == NotificationKind::Escalation).then_some(2),
        channel_id,
        incident_id: "0193a7c2-0000-7000-8000-00000000abcd".into(),
        monitor: MonitorRef {
            id: 1,
            namespace: "shop".into(),
            name: "web".into(),
            url: "https://shop.example.com/health".into(),
        },
        consecutive_failures: if kind == NotificationKind::Recovery {
            0
        } else {
            10
        },
        since: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
        error: Some("HTTP 503".into()),
        error_kind: Some(ErrorKind::Status),
        slot: Utc.with_ymd_and_hms(2026, 11, 23, 10, 15, 0).unwrap(),
        created_at: Utc::now(),
    }
}

struct Rig {
    db: TestDb,
    vhost: TestVhost,
    sealer: Sealer,
    receiver: TargetServer,
}

impl Rig {
    async fn new() -> Self {
        let db = TestDb::create().await;
        db.insert_monitors(&[SeedMonitor::new(1, "web", "x")], true)
            .await;
        let receiver = TargetServer::start().await;
        Self {
            db,
            vhost: TestVhost::create().await,
            sealer: Sealer::from_base64(&Sealer::generate_key()).unwrap(),
            receiver,
        }
    }

    fn notifier(&self, options: Options) -> Arc<Notifier> {
        Arc::new(
            Notifier::new(
                self.db.pool.clone(),
                Some(self.sealer.clone()),
                options,
                NotifierMetrics::register(&Registry::new()),
                &self.vhost.amqp_url,
                QueueType::Classic,
            )
            .unwrap(),
        )
    }

    async fn webhook(&self, name: &str, path: &str) -> u64 {
        self.db
            .insert_channel(
                name,
                "webhook",
                json!({"webhook": {"url": self.receiver.url(path)}}),
                sealed(&self.sealer, name, &[("signingSecret", "s3cret")]),
            )
            .await
    }

    /// Stores `notification` as evaluation would.
    async fn store(&self, notification: &Notification) {
        let mut connection = self.db.pool.acquire().await.unwrap();
        assert!(outbox::insert(&mut connection, notification).await.unwrap());
    }

    /// Stores and publishes, as evaluation does after its commit.
    async fn raise(&self, notification: &Notification) {
        self.store(notification).await;
        let mut publisher = ConfirmingPublisher::new(
            &self.vhost.amqp_url,
            QueueType::Classic,
            QueueNames::EXCHANGE,
        );
        checker::alerting::publish(&mut publisher, std::slice::from_ref(notification))
            .await
            .unwrap();
    }

    fn run(
        &self,
        notifier: Arc<Notifier>,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stop: Stop = async move {
            let _ = stop_rx.await;
        }
        .boxed()
        .shared();
        let url = self.vhost.amqp_url.clone();
        let (connected, _) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            notifier
                .run(&url, QueueType::Classic, connected, stop)
                .await;
        });
        (stop_tx, task)
    }

    async fn row(&self, key: &str) -> (String, u32, Option<String>) {
        sqlx::query_as(
            "SELECT status, attempts, last_error FROM notifications WHERE idempotency_key = ?",
        )
        .bind(key)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    async fn wait_status(&self, key: &str, status: &str) -> (String, u32, Option<String>) {
        wait::until(&format!("{key} {status}"), WAIT, || async {
            let row = self.row(key).await;
            (row.0 == status).then_some(row)
        })
        .await
    }

    async fn depth(&self, queue: &str) -> u32 {
        let connection = amqp::connect(&self.vhost.amqp_url).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        amqp::declare_topology(&channel, QueueType::Classic)
            .await
            .unwrap();
        let (messages, _) = amqp::queue_depth(&channel, queue).await.unwrap();
        let _ = connection.close(200, "done".into()).await;
        messages
    }
}

fn json_body(request: &sentinel_testkit::ReceivedRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn every_channel_sends_what_its_receiver_expects() {
    let rig = Rig::new().await;
    let r = &rig.receiver;
    for path in ["/hook", "/slack", "/teams", "/bot123:abc/sendMessage"] {
        r.set(path, Reply::ok("ok"));
    }
    r.set("/discord", Reply::status(204));
    r.set(
        "/v2/enqueue",
        Reply::status(202).with_body(r#"{"status":"success"}"#),
    );
    let smtp = SmtpSink::start().await;
    let s = &rig.sealer;
    let db = &rig.db;
    let webhook = rig.webhook("hook", "/hook").await;
    let slack = db
        .insert_channel(
            "slack",
            "slack",
            json!({"slack": {"channel": "#ops"}}),
            sealed(s, "slack", &[("webhookUrl", &r.url("/slack"))]),
        )
        .await;
    let discord = db
        .insert_channel(
            "discord",
            "discord",
            json!({"discord": {}}),
            sealed(s, "discord", &[("webhookUrl", &r.url("/discord"))]),
        )
        .await;
    let teams = db
        .insert_channel(
            "teams",
            "teams",
            json!({"teams": {}}),
            sealed(s, "teams", &[("webhookUrl", &r.url("/teams"))]),
        )
        .await;
    let telegram = db
        .insert_channel(
            "telegram",
            "telegram",
            json!({"telegram": {"chatId": "-1001", "apiUrl": r.url("")}}),
            sealed(s, "telegram", &[("botToken", "123:abc")]),
        )
        .await;
    let pagerduty = db
        .insert_channel(
            "pd",
            "pagerduty",
            json!({"pagerduty": {"severity": "warning", "apiUrl": r.url("/")}}),
            sealed(s, "pd", &[("routingKey", "R0UTING")]),
        )
        .await;
    let email = db
        .insert_channel(
            "mail",
            "email",
            json!({"email": {"smtpHost": "127.0.0.1", "smtpPort": smtp.addr.port(), "security": "None",
                   "from": "Uptime Sentinel <alerts@example.com>", "to": ["oncall@example.com", "ops@example.com"]}}),
            sealed(s, "mail", &[("username", "mailer"), ("password", "pa55")]),
        )
        .await;

    let notifier = rig.notifier(Options::default());
    let cases = [
        ("hook", webhook, NotificationKind::Escalation),
        ("slack", slack, NotificationKind::Escalation),
        ("discord", discord, NotificationKind::Escalation),
        ("teams", teams, NotificationKind::Escalation),
        ("telegram", telegram, NotificationKind::Escalation),
        ("pd-trigger", pagerduty, NotificationKind::Escalation),
        ("pd-resolve", pagerduty, NotificationKind::Recovery),
        ("mail", email, NotificationKind::Failure),
    ];
    for (key, channel, kind) in cases {
        let n = notification(key, channel, kind);
        rig.store(&n).await;
        assert_eq!(
            notifier.process(&n).await.unwrap(),
            Outcome::Sent,
            "{key}: {:?}",
            rig.row(key).await
        );
        assert_eq!(rig.row(key).await.0, "sent");
    }

    // Webhook: the documented body, signed over the exact bytes received.
    let hook = &r.requests_to("/hook")[0];
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
    let expected: String = hmac::sign(&key, &hook.body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hook.headers["x-signature"], format!("sha256={expected}"));
    assert_eq!(hook.headers["x-sentinel-idempotency-key"], "hook");
    assert_eq!(hook.headers["content-type"], "application/json");
    let body = json_body(hook);
    assert_eq!(body["event"], "escalation");
    assert_eq!(body["level"], 2);
    assert_eq!(body["monitor"]["namespace"], "shop");
    assert_eq!(body["monitor"]["name"], "web");
    assert_eq!(body["monitor"]["url"], "https://shop.example.com/health");
    assert_eq!(body["consecutiveFailures"], 10);
    assert_eq!(body["since"], "2026-11-23T10:00:00Z");
    assert_eq!(body["error"], "HTTP 503");
    assert_eq!(body["incidentId"], "0193a7c2-0000-7000-8000-00000000abcd");

    let slack = json_body(&r.requests_to("/slack")[0]);
    assert_eq!(slack["channel"], "#ops");
    assert_eq!(
        slack["blocks"][0]["text"]["text"],
        "ESCALATION level 2 shop/web (10 failures)"
    );
    assert!(
        slack["blocks"][2]["fields"]
            .to_string()
            .contains("HTTP 503"),
        "{slack}"
    );

    let discord = json_body(&r.requests_to("/discord")[0]);
    assert_eq!(
        discord["embeds"][0]["title"],
        "ESCALATION level 2 shop/web (10 failures)"
    );
    assert!(
        discord["embeds"][0]["fields"]
            .to_string()
            .contains("https://shop.example.com/health")
    );

    let teams = json_body(&r.requests_to("/teams")[0]);
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(teams.to_string().contains("shop/web"), "{teams}");

    let telegram = json_body(&r.requests_to("/bot123:abc/sendMessage")[0]);
    assert_eq!(telegram["chat_id"], "-1001");
    assert!(
        telegram["text"]
            .as_str()
            .unwrap()
            .contains("Failures in a row: 10")
    );

    let events: Vec<Value> = r.requests_to("/v2/enqueue").iter().map(json_body).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["routing_key"], "R0UTING");
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(
        events[0]["dedup_key"],
        "0193a7c2-0000-7000-8000-00000000abcd"
    );
    assert_eq!(events[0]["payload"]["severity"], "warning");
    assert_eq!(
        events[0]["payload"]["source"],
        "https://shop.example.com/health"
    );
    assert_eq!(
        events[1]["event_action"], "resolve",
        "recovery resolves the PagerDuty incident"
    );
    assert_eq!(events[1]["dedup_key"], events[0]["dedup_key"]);

    let mail = &smtp.received()[0];
    assert_eq!(mail.from, "alerts@example.com");
    assert_eq!(mail.to, vec!["oncall@example.com", "ops@example.com"]);
    assert_eq!(mail.auth, Some(("mailer".into(), "pa55".into())));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("[Uptime Sentinel] DOWN shop/web (10 failures)")
    );
    assert!(
        mail.body().contains("https://shop.example.com/health"),
        "{}",
        mail.data
    );
    assert!(
        mail.body().contains("First error: status: HTTP 503"),
        "{}",
        mail.data
    );
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_the_message_once_and_attempts_are_recorded() {
    let rig = Rig::new().await;
    rig.receiver.set("/flaky", Reply::ok("ok"));
    rig.receiver
        .queue("/flaky", (0..3).map(|_| Reply::status(500)));
    let channel = rig.webhook("flaky", "/flaky").await;
    let notifier = rig.notifier(Options {
        retry_base: Duration::from_millis(100),
        relay_every: Duration::from_millis(100),
        ..Options::default()
    });
    let (stop, task) = rig.run(notifier);
    let n = notification("flaky-1", channel, NotificationKind::Failure);
    rig.raise(&n).await;
    let (_, attempts, last_error) = rig.wait_status("flaky-1", "sent").await;
    assert_eq!(attempts, 4);
    assert_eq!(last_error, None);
    let requests = rig.receiver.requests_to("/flaky");
    assert_eq!(requests.len(), 4, "three failures, one success");
    assert!(
        requests
            .iter()
            .all(|r| r.headers["x-sentinel-idempotency-key"] == "flaky-1")
    );
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_receiver_that_always_fails_is_dead_lettered_and_one_that_refuses_at_once() {
    let rig = Rig::new().await;
    rig.receiver.set("/down", Reply::status(503));
    rig.receiver.set("/gone", Reply::status(404));
    let down = rig.webhook("down", "/down").await;
    let gone = rig.webhook("gone", "/gone").await;
    let notifier = rig.notifier(Options {
        max_attempts: 3,
        retry_base: Duration::from_millis(100),
        relay_every: Duration::from_millis(100),
        ..Options::default()
    });
    let (stop, task) = rig.run(notifier);
    rig.raise(&notification("down-1", down, NotificationKind::Failure))
        .await;
    rig.raise(&notification("gone-1", gone, NotificationKind::Failure))
        .await;
    let (_, attempts, error) = rig.wait_status("down-1", "failed").await;
    assert_eq!(attempts, 3);
    assert!(error.unwrap().contains("HTTP 503"));
    assert_eq!(rig.receiver.requests_to("/down").len(), 3);
    let (_, attempts, error) = rig.wait_status("gone-1", "failed").await;
    assert_eq!(attempts, 1, "a 404 is not retried");
    assert!(error.unwrap().contains("HTTP 404"));
    wait::until("two dead letters", WAIT, || async {
        (rig.depth(QueueNames::NOTIFICATIONS_DEAD).await == 2).then_some(())
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_notifier_killed_between_sending_and_acking_never_sends_twice() {
    let rig = Rig::new().await;
    rig.receiver.set("/hook", Reply::ok("ok"));
    let channel = rig.webhook("hook", "/hook").await;
    let n = notification("once", channel, NotificationKind::Failure);
    rig.raise(&n).await;

    // The first notifier takes the message, delivers, and dies before its ack: its
    // connection closes with the message unacked.
    let connection = amqp::connect(&rig.vhost.amqp_url).await.unwrap();
    let channel_1 = connection.create_channel().await.unwrap();
    let mut consumer = channel_1
        .basic_consume(
            QueueNames::NOTIFICATIONS.into(),
            "doomed".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let delivery = consumer.next().await.unwrap().unwrap();
    let taken: Notification = contract::decode("notification", &delivery.data).unwrap();
    let first = rig.notifier(Options::default());
    assert_eq!(first.process(&taken).await.unwrap(), Outcome::Sent);
    drop(consumer);
    connection.close(320, "killed".into()).await.unwrap();

    // Its replacement gets the redelivery and a relay pass, and sends nothing.
    let second = rig.notifier(Options {
        relay_every: Duration::from_millis(100),
        ..Options::default()
    });
    assert_eq!(second.process(&n).await.unwrap(), Outcome::AlreadyDone);
    let (stop, task) = rig.run(second);
    wait::until("the redelivered message acked", WAIT, || async {
        (rig.depth(QueueNames::NOTIFICATIONS).await == 0).then_some(())
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap();
    assert_eq!(rig.receiver.requests_to("/hook").len(), 1);
    assert_eq!(rig.row("once").await.1, 1, "one attempt");
}

#[tokio::test]
async fn a_lost_publish_is_delivered_by_the_relay_and_a_slow_channel_does_not_hold_up_others() {
    let rig = Rig::new().await;
    rig.receiver
        .set("/slow", Reply::ok("ok").with_delay(Duration::from_secs(3)));
    rig.receiver.set("/fast", Reply::ok("ok"));
    let slow = rig.webhook("slow", "/slow").await;
    let fast = rig.webhook("fast", "/fast").await;
    let notifier = rig.notifier(Options {
        per_channel: 1,
        relay_every: Duration::from_millis(100),
        ..Options::default()
    });
    let (stop, task) = rig.run(notifier);
    for i in 0..3 {
        rig.raise(&notification(
            &format!("slow-{i}"),
            slow,
            NotificationKind::Failure,
        ))
        .await;
    }
    for i in 0..3 {
        rig.raise(&notification(
            &format!("fast-{i}"),
            fast,
            NotificationKind::Failure,
        ))
        .await;
    }
    let started = std::time::Instant::now();
    rig.receiver.wait_for_requests("/fast", 3, WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the fast channel waited for the slow one: {:?}",
        started.elapsed()
    );
    assert_eq!(rig.row("fast-2").await.0, "sent");

    // A notification stored without its message (evaluation crashed after commit) goes
    // out through the relay once its grace period is over.
    let lost = notification("lost", fast, NotificationKind::Failure);
    rig.store(&lost).await;
    sqlx::query("UPDATE notifications SET next_attempt_at = NOW(3) WHERE idempotency_key = 'lost'")
        .execute(&rig.db.pool)
        .await
        .unwrap();
    rig.wait_status("lost", "sent").await;
    for i in 0..3 {
        rig.wait_status(&format!("slow-{i}"), "sent").await;
    }
    assert_eq!(rig.receiver.requests_to("/slow").len(), 3);
    assert_eq!(rig.receiver.requests_to("/fast").len(), 4);
    stop.send(()).unwrap();
    task.await.unwrap();
}
