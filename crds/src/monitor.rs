//! `Monitor`: one endpoint to check, how often, and what counts as healthy.
//!
//! The spec is flat for the HTTP check (`url`, `method`, `headers`, `expect` …) with a
//! `type` discriminator defaulting to `HTTP`: TCP or DNS checks later add a `type` value
//! and their own optional block (`tcp:`, `dns:`) without changing any existing field, so
//! manifests written today stay valid.
//!
//! The status is written by the operator's status sync from MySQL (the checker owns the
//! live state there); `kubectl get monitors` shows its printer columns.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    duration,
    validation::{Problem, Validate},
};

/// The shortest interval a monitor may use: the scheduler ticks every second, but checking
/// more often than every 10 s buys little and multiplies the load on the target.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest interval: beyond a day a check says little about uptime.
pub const MAX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Request bodies travel inside queue messages and MySQL rows: keep them small.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Desired state of a Monitor.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "uptimesentinel.io",
    version = "v1alpha1",
    kind = "Monitor",
    namespaced,
    status = "MonitorStatus",
    derive = "PartialEq",
    shortname = "mon",
    category = "sentinel",
    cel,
    doc = "An endpoint that Uptime Sentinel checks at its own interval, with the assertions that decide whether it is up.",
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
    printcolumn(name = "HEALTH", type_ = "string", json_path = ".status.health"),
    printcolumn(
        name = "LATENCY",
        type_ = "integer",
        json_path = ".status.lastLatencyMs",
        description = "Latency of the last check in milliseconds"
    ),
    printcolumn(
        name = "UPTIME",
        type_ = "string",
        json_path = ".status.uptime.last24h",
        description = "Share of successful checks over the last 24 hours"
    ),
    printcolumn(
        name = "LAST CHECK",
        type_ = "date",
        json_path = ".status.lastCheckTime"
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "FAILURES",
        type_ = "integer",
        json_path = ".status.consecutiveFailures",
        priority = 1
    ),
    printcolumn(
        name = "ERROR",
        type_ = "string",
        json_path = ".status.lastError",
        priority = 1
    )
)]
#[x_kube(
    validation = Rule::new("duration(self.timeout) < duration(self.interval)").message("timeout must be shorter than interval").field_path(".timeout"),
    validation = Rule::new("duration(self.interval) >= duration('10s')").message("interval must be at least 10s").field_path(".interval"),
    validation = Rule::new("duration(self.interval) <= duration('24h')").message("interval must be at most 24h").field_path(".interval"),
    validation = Rule::new("!has(self.expect) || !has(self.expect.maxResponseTime) || duration(self.expect.maxResponseTime) <= duration(self.timeout)").message("expect.maxResponseTime must not exceed timeout").field_path(".expect.maxResponseTime"),
    validation = Rule::new("!has(self.body) || self.method != 'GET' && self.method != 'HEAD'").message("a request body needs a method other than GET or HEAD").field_path(".body")
)]
#[serde(rename_all = "camelCase")]
pub struct MonitorSpec {
    /// The check type. Only `HTTP` exists today; TCP and DNS checks will add values and
    /// their own settings block without changing the fields below.
    #[serde(default, rename = "type")]
    pub check_type: CheckType,
    /// The URL to request: `http://` or `https://`, at most 2048 characters.
    #[schemars(regex(pattern = r"^https?://[^\s/$.?#][^\s]*$"), length(max = 2048))]
    pub url: String,
    /// HTTP method. Default `GET`.
    #[serde(default)]
    pub method: HttpMethod,
    /// How often to check, as a Go duration (`30s`, `5m`, `1h`). At least 10s, at most 24h.
    /// Default `60s`.
    #[serde(default = "default_interval")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub interval: String,
    /// How long one check may take in total (connect, TLS, headers and body), as a Go
    /// duration. Must be shorter than `interval`. Default `5s`.
    #[serde(default = "default_timeout")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub timeout: String,
    /// Request headers. Values that are credentials (an `Authorization` header, an API key)
    /// come from a Secret through `valueFrom`, never inline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub headers: Vec<HttpHeader>,
    /// Request body (for POST, PUT, PATCH …), at most 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub body: Option<String>,
    /// Follow redirects (at most 10 hops; a loop fails the check with kind `redirect`).
    /// Default `true`.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Verify the server's TLS certificate and host name. Default `true`; turning it off
    /// is for self-signed internal endpoints only.
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// What a healthy response looks like. Default: a status code in 200-399.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expectations>,
    /// Warn before the endpoint's TLS certificate expires (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_expiry: Option<CertificateExpiry>,
    /// A paused monitor is not checked and raises no alerts; its health shows `Paused`.
    #[serde(default)]
    pub paused: bool,
}

fn default_interval() -> String {
    "60s".into()
}
fn default_timeout() -> String {
    "5s".into()
}
fn default_true() -> bool {
    true
}

/// The kind of check a monitor runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CheckType {
    /// An HTTP(S) request with assertions on the response.
    #[default]
    #[serde(rename = "HTTP")]
    Http,
}

/// HTTP request methods a monitor may use.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET (the default).
    #[default]
    Get,
    /// HEAD: headers only, no body to assert on.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

impl HttpMethod {
    /// The method as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

/// One request header: an inline `value` or a `valueFrom` Secret reference (exactly one).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("has(self.value) != has(self.valueFrom)").message("give exactly one of value or valueFrom")
)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeader {
    /// Header name, e.g. `Accept`.
    #[schemars(
        regex(pattern = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"),
        length(min = 1, max = 256)
    )]
    pub name: String,
    /// Inline value, for headers that are not secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Value taken from a key of a Secret in the monitor's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<SecretKeyRef>,
}

/// A key of a Secret in the same namespace as the object that refers to it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyRef {
    /// Secret name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// Assertions on the response; a check passes only when all hold.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Expectations {
    /// Accepted status codes as single codes (`"204"`) or inclusive ranges (`"200-299"`).
    /// Default `["200-399"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        inner(regex(pattern = r"^[1-5][0-9]{2}(-[1-5][0-9]{2})?$")),
        length(max = 20)
    )]
    pub status_codes: Vec<String>,
    /// Texts the body must contain (case-sensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub body_contains: Vec<String>,
    /// Texts the body must not contain (case-sensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub body_not_contains: Vec<String>,
    /// JSON values the body must hold, e.g. `{path: "$.status", equals: "ok"}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub json: Vec<JsonAssertion>,
    /// The slowest acceptable response (Go duration, at most `timeout`); slower fails the
    /// check with kind `assertion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub max_response_time: Option<String>,
}

/// The value at a JSON path of the body must equal a given text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct JsonAssertion {
    /// A path from the document root: `$`, then `.field` or `[index]` steps, e.g.
    /// `$.checks[0].status`.
    #[schemars(regex(pattern = r"^\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])*$"))]
    pub path: String,
    /// Expected value: strings compare without quotes, numbers, booleans and null by their
    /// JSON text (`"42"`, `"true"`, `"null"`).
    pub equals: String,
}

/// Certificate expiry warning for https monitors.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateExpiry {
    /// Fail the check (kind `certificate`) when the leaf certificate expires within this
    /// many days.
    #[schemars(range(min = 1, max = 365))]
    pub warning_days: u32,
}

/// Observed state of a Monitor, copied from MySQL by the operator's status sync.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitorStatus {
    /// `Pending` until the first result, then `Up` or `Down`; `Paused` while paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// When health last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_since: Option<Time>,
    /// When the last check ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_time: Option<Time>,
    /// HTTP status code of the last check (absent when no response arrived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    /// Total latency of the last check in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_latency_ms: Option<u32>,
    /// Error class of the last failed check (`dns`, `connect`, `tls`, `timeout`, `status`,
    /// `assertion`, `body_too_large`, …); absent after a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_kind: Option<String>,
    /// Short message of the last failed check; absent after a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Failed checks in a row (0 after a success).
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Share of successful checks over 24 hours, 7 days and 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<Uptime>,
    /// When the endpoint's TLS leaf certificate expires (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_expires_at: Option<Time>,
    /// The open incident while the monitor is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_incident: Option<String>,
    /// The spec generation the operator last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` says whether the spec is valid and stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Health of a monitor.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Health {
    /// Created, not yet checked: no alerts while pending.
    Pending,
    /// The last check passed.
    Up,
    /// The last check failed.
    Down,
    /// Not being checked.
    Paused,
}

impl Health {
    /// The name as stored in MySQL and shown in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Up => "Up",
            Self::Down => "Down",
            Self::Paused => "Paused",
        }
    }

    /// Parses the stored name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Pending" => Some(Self::Pending),
            "Up" => Some(Self::Up),
            "Down" => Some(Self::Down),
            "Paused" => Some(Self::Paused),
            _ => None,
        }
    }
}

/// Uptime percentages, formatted for display (`"99.95%"`), computed from the rollups.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uptime {
    /// Over the last 24 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last24h: Option<String>,
    /// Over the last 7 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last7d: Option<String>,
    /// Over the last 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last30d: Option<String>,
}

/// An inclusive range of HTTP status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRange {
    /// Lowest accepted code.
    pub from: u16,
    /// Highest accepted code.
    pub to: u16,
}

impl StatusRange {
    /// Parses `"204"` or `"200-299"`; `Err` names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parse_code = |part: &str| -> Result<u16, String> {
            let code: u16 = part
                .trim()
                .parse()
                .map_err(|_| format!("{text:?} is not a status code or range like \"200-299\""))?;
            if (100..=599).contains(&code) {
                Ok(code)
            } else {
                Err(format!("{code} is not an HTTP status code (100-599)"))
            }
        };
        let (from, to) = match text.split_once('-') {
            Some((a, b)) => (parse_code(a)?, parse_code(b)?),
            None => {
                let code = parse_code(text)?;
                (code, code)
            }
        };
        if from > to {
            return Err(format!("range {text:?} is empty ({from} is above {to})"));
        }
        Ok(Self { from, to })
    }

    /// Whether `code` is inside the range.
    pub fn contains(self, code: u16) -> bool {
        (self.from..=self.to).contains(&code)
    }
}

/// The accepted ranges when a monitor gives none: any 2xx or 3xx.
pub const DEFAULT_STATUS_RANGE: StatusRange = StatusRange { from: 200, to: 399 };

impl MonitorSpec {
    /// The interval, parsed. Call [`Validate::validate`] first: an invalid value yields
    /// the default (60 s) here.
    pub fn interval(&self) -> std::time::Duration {
        duration::parse(&self.interval).unwrap_or(std::time::Duration::from_secs(60))
    }

    /// The timeout, parsed; an invalid value yields the default (5 s).
    pub fn timeout(&self) -> std::time::Duration {
        duration::parse(&self.timeout).unwrap_or(std::time::Duration::from_secs(5))
    }

    /// The accepted status ranges (the default when none are given); invalid entries are
    /// skipped (validation reports them).
    pub fn status_ranges(&self) -> Vec<StatusRange> {
        let given: Vec<StatusRange> = self
            .expect
            .iter()
            .flat_map(|e| e.status_codes.iter())
            .filter_map(|s| StatusRange::parse(s).ok())
            .collect();
        if given.is_empty() {
            vec![DEFAULT_STATUS_RANGE]
        } else {
            given
        }
    }
}

impl Validate for MonitorSpec {
    fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_url(&self.url, &mut problems);

        let interval = parse_duration_field("spec.interval", &self.interval, &mut problems);
        let timeout = parse_duration_field("spec.timeout", &self.timeout, &mut problems);
        if let Some(interval) = interval {
            if interval < MIN_INTERVAL {
                problems.push(Problem::new(
                    "spec.interval",
                    format!("{} is below the minimum of 10s", self.interval),
                ));
            }
            if interval > MAX_INTERVAL {
                problems.push(Problem::new(
                    "spec.interval",
                    format!("{} is above the maximum of 24h", self.interval),
                ));
            }
        }
        if let Some(timeout) = timeout {
            if timeout.is_zero() {
                problems.push(Problem::new("spec.timeout", "must be greater than 0"));
            }
            if let Some(interval) = interval
                && timeout >= interval
            {
                problems.push(Problem::new(
                    "spec.timeout",
                    format!(
                        "{} must be shorter than the interval ({})",
                        self.timeout, self.interval
                    ),
                ));
            }
        }

        let mut seen_headers = std::collections::BTreeSet::new();
        for (i, header) in self.headers.iter().enumerate() {
            let path = format!("spec.headers[{i}]");
            if header.name.is_empty()
                || !header
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b))
            {
                problems.push(Problem::new(
                    format!("{path}.name"),
                    format!("{:?} is not a valid header name", header.name),
                ));
            }
            if !seen_headers.insert(header.name.to_ascii_lowercase()) {
                problems.push(Problem::new(
                    format!("{path}.name"),
                    format!("header {:?} is given twice", header.name),
                ));
            }
            match (&header.value, &header.value_from) {
                (Some(_), Some(_)) | (None, None) => problems.push(Problem::new(
                    path.clone(),
                    "give exactly one of value or valueFrom",
                )),
                (Some(value), None) if value.contains(['\r', '\n']) => problems.push(Problem::new(
                    format!("{path}.value"),
                    "must not contain line breaks",
                )),
                (Some(_), None) if header.name.eq_ignore_ascii_case("authorization") => problems
                    .push(Problem::new(
                        format!("{path}.value"),
                        "credentials must not be inline: use valueFrom with a Secret",
                    )),
                (None, Some(secret)) => {
                    crate::validation::check_object_name(
                        &format!("{path}.valueFrom.name"),
                        &secret.name,
                        &mut problems,
                    );
                    if secret.key.is_empty() {
                        problems.push(Problem::new(
                            format!("{path}.valueFrom.key"),
                            "must not be empty",
                        ));
                    }
                }
                _ => {}
            }
        }

        if let Some(body) = &self.body {
            if body.len() > MAX_BODY_BYTES {
                problems.push(Problem::new(
                    "spec.body",
                    format!(
                        "is {} bytes; at most {MAX_BODY_BYTES} are allowed",
                        body.len()
                    ),
                ));
            }
            if matches!(self.method, HttpMethod::Get | HttpMethod::Head) {
                problems.push(Problem::new(
                    "spec.body",
                    format!(
                        "a request body needs a method other than {}",
                        self.method.as_str()
                    ),
                ));
            }
        }

        if let Some(expect) = &self.expect {
            check_expectations(expect, timeout, &mut problems);
        }

        if self.certificate_expiry.is_some() && !self.url.starts_with("https://") {
            problems.push(Problem::new(
                "spec.certificateExpiry",
                "certificate expiry can only be checked on https:// URLs",
            ));
        }
        if let Some(expiry) = &self.certificate_expiry
            && !(1..=365).contains(&expiry.warning_days)
        {
            problems.push(Problem::new(
                "spec.certificateExpiry.warningDays",
                format!("{} is outside 1-365", expiry.warning_days),
            ));
        }
        problems
    }
}

impl Validate for Monitor {
    /// The spec's semantic rules plus the schema's CEL rules, evaluated client-side.
    fn validate(&self) -> Vec<Problem> {
        let mut problems = self.spec.validate();
        merge_cel(&mut problems, crate::validation::cel_problems(self));
        problems
    }
}

/// Adds CEL problems that the semantic rules did not already report for the same field or
/// a field inside it (the semantic message is the more precise one).
pub(crate) fn merge_cel(problems: &mut Vec<Problem>, cel: Vec<Problem>) {
    for problem in cel {
        let covered = problems.iter().any(|p| {
            p.field == problem.field
                || p.field.starts_with(&format!("{}.", problem.field))
                || p.field.starts_with(&format!("{}[", problem.field))
        });
        if !covered {
            problems.push(problem);
        }
    }
}

fn check_url(text: &str, problems: &mut Vec<Problem>) {
    match url::Url::parse(text) {
        Err(e) => problems.push(Problem::new(
            "spec.url",
            format!("{text:?} is not a URL: {e}"),
        )),
        Ok(url) => {
            if !matches!(url.scheme(), "http" | "https") {
                problems.push(Problem::new(
                    "spec.url",
                    format!(
                        "scheme {:?} is not supported (use http or https)",
                        url.scheme()
                    ),
                ));
            }
            if url.host_str().is_none_or(str::is_empty) {
                problems.push(Problem::new("spec.url", "has no host"));
            }
            if !url.username().is_empty() || url.password().is_some() {
                problems.push(Problem::new(
                    "spec.url",
                    "must not contain credentials: use a header with valueFrom a Secret",
                ));
            }
            if text.len() > 2048 {
                problems.push(Problem::new("spec.url", "is longer than 2048 characters"));
            }
        }
    }
}

fn parse_duration_field(
    field: &str,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Option<std::time::Duration> {
    match duration::parse(text) {
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(Problem::new(field, e.to_string()));
            None
        }
    }
}

fn check_expectations(
    expect: &Expectations,
    timeout: Option<std::time::Duration>,
    problems: &mut Vec<Problem>,
) {
    for (i, code) in expect.status_codes.iter().enumerate() {
        if let Err(message) = StatusRange::parse(code) {
            problems.push(Problem::new(
                format!("spec.expect.statusCodes[{i}]"),
                message,
            ));
        }
    }
    for (field, texts) in [
        ("bodyContains", &expect.body_contains),
        ("bodyNotContains", &expect.body_not_contains),
    ] {
        for (i, text) in texts.iter().enumerate() {
            if text.is_empty() {
                problems.push(Problem::new(
                    format!("spec.expect.{field}[{i}]"),
                    "must not be empty (an empty text matches every body)",
                ));
            }
        }
    }
    for contained in &expect.body_contains {
        if !contained.is_empty() && expect.body_not_contains.contains(contained) {
            problems.push(Problem::new(
                "spec.expect.bodyNotContains",
                format!("{contained:?} is required and forbidden at once: no body can pass"),
            ));
        }
    }
    for (i, assertion) in expect.json.iter().enumerate() {
        if let Err(message) = crate::contract::JsonPath::parse(&assertion.path) {
            problems.push(Problem::new(format!("spec.expect.json[{i}].path"), message));
        }
    }
    if let Some(max) = &expect.max_response_time
        && let Some(max) = parse_duration_field("spec.expect.maxResponseTime", max, problems)
        && let Some(timeout) = timeout
        && max > timeout
    {
        problems.push(Problem::new(
            "spec.expect.maxResponseTime",
            "must not exceed timeout (a slower response already times out)",
        ));
    }
}

/// Labels of a monitor, for selector matching.
pub fn labels(monitor: &Monitor) -> BTreeMap<String, String> {
    monitor.metadata.labels.clone().unwrap_or_default()
}
