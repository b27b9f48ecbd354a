//! The small JSON path language of `expect.json[].path`: `$` followed by `.field` and
//! `[index]` steps. Enough for health endpoints (`$.status`, `$.checks[0].ok`) without a
//! query language whose cost the checker cannot bound.

use serde::{Deserialize, Serialize};

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonStep {
    /// An object member.
    Field(String),
    /// An array element.
    Index(usize),
}

/// A parsed path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath(pub Vec<JsonStep>);

impl JsonPath {
    /// Parses `$.a.b[0]`.
    ///
    /// # Errors
    /// A message naming the first character that does not fit.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err(format!("{text:?} must start with $ (e.g. $.status)"));
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let len = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..len];
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(format!(
                        "{text:?}: field names may hold letters, digits, '_' and '-' only"
                    ));
                }
                steps.push(JsonStep::Field(name.to_string()));
                rest = &after[len..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(close) = after.find(']') else {
                    return Err(format!("{text:?}: '[' without ']'"));
                };
                let index: usize = after[..close]
                    .parse()
                    .map_err(|_| format!("{text:?}: array index must be a number"))?;
                steps.push(JsonStep::Index(index));
                rest = &after[close + 1..];
            } else {
                return Err(format!(
                    "{text:?}: expected '.field' or '[index]' after {:?}",
                    &text[..text.len() - rest.len()]
                ));
            }
        }
        Ok(Self(steps))
    }

    /// The value at this path, if present.
    pub fn select<'a>(&self, value: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.0.iter().try_fold(value, |current, step| match step {
            JsonStep::Field(name) => current.get(name),
            JsonStep::Index(i) => current.get(i),
        })
    }
}

/// The text a JSON value compares as: strings without quotes, everything else as JSON.
pub fn comparable_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_indexes() {
        let path = JsonPath::parse("$.checks[1].status").unwrap();
        let doc = serde_json::json!({"checks": [{"status": "bad"}, {"status": "ok"}]});
        assert_eq!(path.select(&doc), Some(&serde_json::json!("ok")));
        assert_eq!(JsonPath::parse("$").unwrap().select(&doc), Some(&doc));
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in ["status", "$.", "$[x]", "$[1", "$..a", "$.a b"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn comparable_text_unquotes_strings_only() {
        assert_eq!(comparable_text(&serde_json::json!("ok")), "ok");
        assert_eq!(comparable_text(&serde_json::json!(42)), "42");
        assert_eq!(comparable_text(&serde_json::json!(true)), "true");
        assert_eq!(comparable_text(&serde_json::Value::Null), "null");
    }
}
