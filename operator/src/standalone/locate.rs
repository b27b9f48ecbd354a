//! Finding the line of a field in a YAML document, so `operator validate` can print
//! `file:line` for `spec.expect.statusCodes[1]`.
//!
//! A best-effort walk over the text (serde_yaml keeps no positions for values): each path
//! segment is searched as a `key:` at a deeper indentation than its parent, after the
//! parent's line; `[i]` steps to the i-th `- ` item of a block list. Flow style (`{…}`,
//! `[…]`) is found by its key on the parent's line. When a segment is not found the deepest
//! line found so far is returned, which is still the right neighbourhood.

/// The 1-based line of `field` (e.g. `spec.levels[1].afterFailures`) in the document that
/// starts at `start` (1-based) in `text`.
pub fn line_of(text: &str, start: usize, field: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.trim_end() == "---")
        .map_or(lines.len(), |(i, _)| i);
    let mut found = start.max(1);
    let mut from = start.saturating_sub(1);
    let mut indent: Option<usize> = None;
    for segment in segments(field) {
        match segment {
            Segment::Key(key) => {
                let hit = (from..end).find(|&i| {
                    let line = lines[i];
                    let depth = leading(line);
                    indent.is_none_or(|parent| depth > parent || i == from) && has_key(line, key)
                });
                match hit {
                    Some(i) => {
                        found = i + 1;
                        indent = Some(key_indent(lines[i], key));
                        from = i;
                    }
                    None => return found,
                }
            }
            Segment::Index(n) => {
                if lines.get(from).is_some_and(|l| l.contains('[')) {
                    continue;
                }
                let parent = indent.unwrap_or(0);
                let items: Vec<usize> = (from + 1..end)
                    .take_while(|&i| lines[i].trim().is_empty() || leading(lines[i]) >= parent)
                    .filter(|&i| lines[i].trim_start().starts_with("- ") || lines[i].trim() == "-")
                    .filter(|&i| leading(lines[i]) >= parent)
                    .collect();
                let min_indent = items.iter().map(|&i| leading(lines[i])).min();
                let items: Vec<usize> = items
                    .into_iter()
                    .filter(|&i| Some(leading(lines[i])) == min_indent)
                    .collect();
                match items.get(n) {
                    Some(&i) => {
                        found = i + 1;
                        from = i;
                        indent = Some(leading(lines[i]));
                    }
                    None => return found,
                }
            }
        }
    }
    found
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(field: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        for index in rest.split('[') {
            if let Ok(n) = index.trim_end_matches(']').parse() {
                out.push(Segment::Index(n));
            }
        }
    }
    out
}

fn leading(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn has_key(line: &str, key: &str) -> bool {
    let body = line.trim_start().trim_start_matches("- ");
    body.starts_with(&format!("{key}:"))
        || line.contains(&format!("{{{key}:"))
        || line.contains(&format!(", {key}:"))
        || line.contains(&format!("{{ {key}:"))
}

fn key_indent(line: &str, key: &str) -> usize {
    line.find(&format!("{key}:"))
        .unwrap_or_else(|| leading(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
apiVersion: uptimesentinel.io/v1alpha1
kind: Monitor
metadata: {name: a}
spec:
  url: https://a.example
  expect:
    statusCodes:
      - \"200\"
      - \"99\"
  interval: 5s
---
kind: EscalationPolicy
spec:
  levels:
    - afterFailures: 3
      channelRef: a
    - {afterFailures: 3, channelRef: b}
";

    #[test]
    fn finds_nested_keys_and_list_items() {
        assert_eq!(line_of(TEXT, 1, "spec.interval"), 10);
        assert_eq!(line_of(TEXT, 1, "spec.expect.statusCodes[1]"), 9);
        assert_eq!(line_of(TEXT, 1, "spec.url"), 5);
        assert_eq!(line_of(TEXT, 12, "spec.levels[1].afterFailures"), 17);
        assert_eq!(line_of(TEXT, 12, "spec.levels[0].channelRef"), 16);
    }

    #[test]
    fn a_missing_field_points_at_the_deepest_parent_found() {
        assert_eq!(line_of(TEXT, 1, "spec.timeout"), 4);
    }
}
