//! Settings read from the environment, all read one way: a value is trimmed, and an unset or
//! blank variable is absent.

/// The trimmed value of `name`; `None` when it is unset, not Unicode, or blank.
pub fn var(name: &str) -> Option<String> {
    cleaned(std::env::var(name).ok())
}

/// Whether `name` is set to `true`, `1` or `yes` (any letter case).
pub fn flag(name: &str) -> bool {
    var(name).is_some_and(|v| is_true(&v))
}

fn cleaned(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn is_true(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_blank_is_absent() {
        assert_eq!(cleaned(Some("  2:5 ".into())).as_deref(), Some("2:5"));
        assert_eq!(cleaned(Some(" \t ".into())), None);
        assert_eq!(cleaned(None), None);
        assert!(is_true("Yes") && is_true("TRUE") && is_true("1"));
        assert!(!is_true("no") && !is_true("2:5"));
    }
}
