//! What a DNS host name may look like, for everything the probe reads one from (resolver addresses, app
//! endpoints).

/// Whether `text` is a syntactically valid DNS host name: dot-separated labels of 1–63 letters, digits, `-` or `_`
/// (neither first nor last a `-`), at most 253 bytes, an optional final dot.
pub(crate) fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_and_what_is_not_one() {
        for name in ["example.org", "example.org.", "a-b.c_d.example", "localhost", "x"] {
            assert!(is_host_name(name), "{name}");
        }
        let long_label = format!("{}.org", "a".repeat(64));
        let long_name = vec!["abcdefghi"; 26].join(".");
        for name in [
            "",
            ".",
            "a..b",
            "-a.org",
            "a-.org",
            "ex ample.org",
            "exa/mple",
            &long_label,
            &long_name,
        ] {
            assert!(!is_host_name(name), "{name}");
        }
    }
}
