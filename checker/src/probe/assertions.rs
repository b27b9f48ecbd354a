//! Deciding whether a response is healthy: status ranges, body texts, JSON values, response
//! time, certificate expiry. Pure functions over what the client read.

use crds::contract::{CheckExpectations, ErrorKind, JsonPath, comparable_text};

/// The first failed assertion, as (kind, message).
pub fn evaluate(
    expect: &CheckExpectations,
    status: u16,
    body: &[u8],
    elapsed_ms: u64,
) -> Option<(ErrorKind, String)> {
    if !expect.status.iter().any(|r| r.contains(status)) {
        let accepted: Vec<String> = expect
            .status
            .iter()
            .map(|r| {
                if r.from == r.to {
                    r.from.to_string()
                } else {
                    format!("{}-{}", r.from, r.to)
                }
            })
            .collect();
        return Some((
            ErrorKind::Status,
            format!("status {status} is not in {}", accepted.join(", ")),
        ));
    }
    if let Some(max) = expect.max_response_ms
        && elapsed_ms > max
    {
        return Some((
            ErrorKind::Assertion,
            format!("response took {elapsed_ms} ms, more than the {max} ms allowed"),
        ));
    }
    let needs_text = !expect.body_contains.is_empty() || !expect.body_not_contains.is_empty();
    if needs_text {
        let text = String::from_utf8_lossy(body);
        if let Some(missing) = expect
            .body_contains
            .iter()
            .find(|t| !text.contains(t.as_str()))
        {
            return Some((
                ErrorKind::Assertion,
                format!("body does not contain {missing:?}"),
            ));
        }
        if let Some(found) = expect
            .body_not_contains
            .iter()
            .find(|t| text.contains(t.as_str()))
        {
            return Some((ErrorKind::Assertion, format!("body contains {found:?}")));
        }
    }
    if !expect.json.is_empty() {
        let document: serde_json::Value = match serde_json::from_slice(body) {
            Ok(document) => document,
            Err(e) => return Some((ErrorKind::Assertion, format!("body is not JSON ({e})"))),
        };
        for expectation in &expect.json {
            let Ok(path) = JsonPath::parse(&expectation.path) else {
                return Some((
                    ErrorKind::Assertion,
                    format!("invalid JSON path {:?}", expectation.path),
                ));
            };
            match path.select(&document) {
                None => {
                    return Some((
                        ErrorKind::Assertion,
                        format!("{} is missing", expectation.path),
                    ));
                }
                Some(value) => {
                    let actual = comparable_text(value);
                    if actual != expectation.equals {
                        return Some((
                            ErrorKind::Assertion,
                            format!(
                                "{} is {actual:?}, expected {:?}",
                                expectation.path, expectation.equals
                            ),
                        ));
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crds::{contract::JsonExpectation, monitor::StatusRange};

    use super::*;

    fn expect() -> CheckExpectations {
        CheckExpectations {
            status: vec![
                StatusRange { from: 200, to: 299 },
                StatusRange { from: 304, to: 304 },
            ],
            body_contains: vec!["ok".into()],
            body_not_contains: vec!["degraded".into()],
            json: vec![JsonExpectation {
                path: "$.checks[0].up".into(),
                equals: "true".into(),
            }],
            max_response_ms: Some(500),
        }
    }

    #[test]
    fn a_healthy_response_passes() {
        assert_eq!(
            evaluate(&expect(), 200, br#"{"s":"ok","checks":[{"up":true}]}"#, 10),
            None
        );
    }

    #[test]
    fn each_assertion_fails_with_its_own_message() {
        let body = br#"{"s":"ok","checks":[{"up":true}]}"#;
        let cases: [(u16, &[u8], u64, ErrorKind, &str); 6] = [
            (
                500,
                body,
                10,
                ErrorKind::Status,
                "status 500 is not in 200-299, 304",
            ),
            (200, body, 900, ErrorKind::Assertion, "took 900 ms"),
            (
                200,
                br#"{"checks":[{"up":true}]}"#,
                10,
                ErrorKind::Assertion,
                "does not contain \"ok\"",
            ),
            (
                200,
                br#"{"s":"ok degraded","checks":[{"up":true}]}"#,
                10,
                ErrorKind::Assertion,
                "contains \"degraded\"",
            ),
            (
                200,
                b"ok, not json",
                10,
                ErrorKind::Assertion,
                "body is not JSON",
            ),
            (
                200,
                br#"{"s":"ok","checks":[{"up":false}]}"#,
                10,
                ErrorKind::Assertion,
                "$.checks[0].up is \"false\", expected \"true\"",
            ),
        ];
        for (status, body, ms, kind, text) in cases {
            let (got_kind, message) = evaluate(&expect(), status, body, ms).unwrap();
            assert_eq!(got_kind, kind, "{message}");
            assert!(message.contains(text), "{message:?} lacks {text:?}");
        }
    }
}
