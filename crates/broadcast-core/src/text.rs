//! Text helpers shared by destinations: cutting UTF-8 safely and sizes for people.

/// Marker appended to a value that was cut to fit a destination's limit.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Cuts `text` so that the result, marker included, is at most `max_bytes` bytes of valid
/// UTF-8, cutting only at a character boundary. Returns the text unchanged when it already fits.
/// When even the marker does not fit, the text is cut to `max_bytes` without a marker.
pub fn truncate_with_marker(text: &str, max_bytes: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max_bytes {
        return std::borrow::Cow::Borrowed(text);
    }
    if max_bytes < TRUNCATION_MARKER.len() {
        return std::borrow::Cow::Owned(floor_char_boundary(text, max_bytes).to_string());
    }
    let kept = floor_char_boundary(text, max_bytes - TRUNCATION_MARKER.len());
    let mut cut = String::with_capacity(kept.len() + TRUNCATION_MARKER.len());
    cut.push_str(kept);
    cut.push_str(TRUNCATION_MARKER);
    std::borrow::Cow::Owned(cut)
}

/// Returns the longest prefix of `text` that is at most `max_bytes` long and ends on a
/// character boundary.
pub fn floor_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Formats a byte count for people: `12 B`, `2.2 MB` (decimal units, one decimal place).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_short_text() {
        assert_eq!(truncate_with_marker("abc", 16), "abc");
    }

    #[test]
    fn truncate_never_splits_emoji() {
        // "abcdefghijklmno" is 15 bytes and the 4-byte emoji covers bytes 15 to 18.
        let text = "abcdefghijklmno🙂 tail text that is longer than the limit";
        let limit = 15 + TRUNCATION_MARKER.len() + 1;
        let cut = truncate_with_marker(text, limit);
        assert_eq!(cut, format!("abcdefghijklmno{TRUNCATION_MARKER}"));
        assert!(cut.len() <= limit);
    }

    #[test]
    fn truncate_never_splits_two_byte_char() {
        let text = "abcdefghijklmnoé and more text past the limit";
        let limit = 16 + TRUNCATION_MARKER.len();
        let cut = truncate_with_marker(text, limit);
        assert_eq!(cut, format!("abcdefghijklmno{TRUNCATION_MARKER}"));
    }

    #[test]
    fn truncate_cjk_on_boundary() {
        let text = "数据已收到，谢谢！🙂";
        for limit in 0..text.len() {
            let cut = truncate_with_marker(text, limit);
            assert!(cut.len() <= limit, "limit {limit} gave {} bytes", cut.len());
        }
    }

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(2_250_000), "2.2 MB");
    }
}
