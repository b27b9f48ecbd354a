//! Contract messages survive encode → decode unchanged, and readers reject what they cannot
//! read with a clear error.

use chrono::{TimeZone, Utc};
use crds::contract::{
    self, CheckBatch, CheckConfig, CheckRequest, ErrorKind, HeaderSource, MonitorRef, Names,
    Notification, NotificationKind, TelemetryRecord, Timings,
};

fn monitor_spec() -> crds::MonitorSpec {
    serde_yaml::from_str(
        r#"
url: https://shop.example.com/api/health
method: POST
interval: 30s
timeout: 4s
body: '{"ping": true}'
headers:
  - {name: Accept, value: application/json}
  - name: Authorization
    valueFrom: {name: shop-api, key: token}
expect:
  statusCodes: ["200-204", "304"]
  bodyContains: [ok]
  json: [{path: $.status, equals: ok}]
  maxResponseTime: 1500ms
certificateExpiry: {warningDays: 14}
"#,
    )
    .unwrap()
}

#[test]
fn check_config_is_built_from_the_spec() {
    let config = CheckConfig::from_spec("shop", "api", 7, &monitor_spec());
    assert_eq!(config.interval_ms, 30_000);
    assert_eq!(config.timeout_ms, 4_000);
    assert_eq!(config.method, "POST");
    assert_eq!(config.generation, 7);
    assert_eq!(
        config.headers[1].value,
        HeaderSource::Secret {
            name: "shop-api".into(),
            key: "token".into()
        }
    );
    assert_eq!(config.expect.status.len(), 2);
    assert!(config.expect.status[0].contains(204) && !config.expect.status[0].contains(205));
    assert_eq!(config.expect.max_response_ms, Some(1500));
    assert_eq!(config.certificate_warning_days, Some(14));
}

#[test]
fn a_spec_without_expectations_accepts_2xx_and_3xx() {
    let spec: crds::MonitorSpec = serde_yaml::from_str("url: http://a.example\n").unwrap();
    let config = CheckConfig::from_spec("d", "a", 1, &spec);
    assert!(config.expect.status[0].contains(200) && config.expect.status[0].contains(399));
    assert!(!config.expect.status[0].contains(400));
}

#[test]
fn check_batch_round_trips() {
    let batch = CheckBatch {
        v: contract::VERSION,
        batch_id: uuid::Uuid::now_v7(),
        dispatched_at: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 1).unwrap(),
        checks: vec![CheckRequest {
            monitor_id: 42,
            slot: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
            credentials: Some(crds::contract::SealedCredentials {
                owner: "uid-1".into(),
                sealed: "v1:abc".into(),
            }),
            config: CheckConfig::from_spec("shop", "api", 3, &monitor_spec()),
        }],
    };
    let bytes = contract::encode(&batch);
    let back: CheckBatch = contract::decode("check batch", &bytes).unwrap();
    assert_eq!(back, batch);
}

#[test]
fn telemetry_record_round_trips_and_omits_empty_fields() {
    let record = TelemetryRecord {
        v: contract::VERSION,
        monitor_id: 9,
        scheduled_at: Utc.timestamp_millis_opt(1_790_000_000_000).unwrap(),
        started_at: Utc.timestamp_millis_opt(1_790_000_000_120).unwrap(),
        generation: 2,
        ok: false,
        status_code: Some(503),
        latency_ms: 87,
        timings: Timings {
            dns_ms: Some(1),
            connect_ms: Some(2),
            tls_ms: None,
            first_byte_ms: Some(80),
        },
        error_kind: Some(ErrorKind::Status),
        error: Some("status 503 is not in 200-399".into()),
        cert_expires_at: None,
    };
    let bytes = contract::encode(&record);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(r#""error_kind":"status""#), "{text}");
    assert!(!text.contains("cert_expires_at"), "{text}");
    let back: TelemetryRecord = contract::decode("telemetry record", &bytes).unwrap();
    assert_eq!(back, record);
}

#[test]
fn notification_round_trips_and_keys_are_stable() {
    let incident = "0193a7c2-0000-7000-8000-000000000001";
    let notification = Notification {
        v: contract::VERSION,
        key: Notification::level_key(incident, 4, 2),
        kind: NotificationKind::Escalation,
        level: Some(2),
        channel_id: 11,
        incident_id: incident.into(),
        monitor: MonitorRef {
            id: 9,
            namespace: "shop".into(),
            name: "api".into(),
            url: "https://shop.example.com/api/health".into(),
        },
        consecutive_failures: 10,
        since: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
        error: Some("connection refused".into()),
        error_kind: Some(ErrorKind::Connect),
        slot: Utc.with_ymd_and_hms(2026, 11, 23, 10, 15, 0).unwrap(),
        created_at: Utc.with_ymd_and_hms(2026, 11, 23, 10, 15, 0).unwrap(),
    };
    let back: Notification =
        contract::decode("notification", &contract::encode(&notification)).unwrap();
    assert_eq!(back, notification);
    assert_eq!(notification.key, format!("{incident}/policy/4/level/2"));
    assert_ne!(
        Notification::rule_key(incident, 1, NotificationKind::Failure, 5),
        Notification::rule_key(incident, 1, NotificationKind::Failure, 20),
        "a failure alert after the cooldown is a new notification"
    );
}

#[test]
fn an_unknown_contract_version_is_rejected_by_name() {
    let error = contract::decode::<TelemetryRecord>("telemetry record", br#"{"v": 2}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unsupported contract version 2"), "{error}");
}

#[test]
fn malformed_messages_are_rejected_with_the_field_named() {
    let error = contract::decode::<TelemetryRecord>(
        "telemetry record",
        br#"{"v": 1, "monitor_id": "nine"}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("failed to decode telemetry record"),
        "{error}"
    );
    let error = contract::decode::<CheckBatch>("check batch", b"not json")
        .unwrap_err()
        .to_string();
    assert!(error.contains("failed to decode check batch"), "{error}");
}

#[test]
fn error_kind_names_are_stable_and_parse_back() {
    for kind in ErrorKind::ALL {
        assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
    }
}

#[test]
fn redis_names_carry_the_prefix() {
    let names = Names::new("t-1:");
    assert_eq!(names.telemetry_stream(), "t-1:telemetry");
    assert_eq!(names.monitor_state(5), "t-1:state:5");
    assert_eq!(names.cooldown(2, 5), "t-1:cooldown:2:5");
    assert_eq!(Names::default().telemetry_stream(), "sentinel:telemetry");
}
