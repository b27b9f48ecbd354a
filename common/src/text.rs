//! Cutting text to fit a column or an API limit.

/// At most `max` bytes of `text`, cut at a character boundary (a byte limit is also a safe
/// character limit for `VARCHAR(n)` columns).
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("héllo", 2), "h", "é is two bytes");
        assert_eq!(truncate("héllo", 3), "hé");
    }
}
