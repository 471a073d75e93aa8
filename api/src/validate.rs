//! Syntax of every name a user chooses. Each entry point calls these, and the
//! database re-checks the same rules with CHECK constraints.

/// App names: `[a-z][a-z0-9-]{1,29}`, no trailing or doubled hyphen.
pub fn is_app_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (2..=30).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Tenant names: `[a-z][a-z0-9-]{1,39}`.
pub fn is_tenant_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (2..=40).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Process types from a Procfile or formation: `[a-z][a-z0-9_-]{0,29}`.
pub fn is_process_type(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=30).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// Config var names: what a POSIX shell accepts as a variable name, up to 128 bytes.
pub fn is_config_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    (1..=128).contains(&bytes.len())
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// A lowercase DNS name of at least two labels, each 1-63 of `[a-z0-9-]`
/// without leading or trailing hyphen, and a top label that is not numeric.
pub fn is_hostname(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    // The top-level label: at least two characters, starting with a letter.
    let top_ok = labels.last().is_some_and(|l| l.len() >= 2 && l.starts_with(|c: char| c.is_ascii_lowercase()));
    labels.len() >= 2 && labels.iter().all(label_ok) && top_ok
}

/// A plausible email address: one `@`, something on each side, no spaces.
pub fn is_email(email: &str) -> bool {
    email.chars().count() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

/// Derives a tenant name from an email's local part, for signups that give none.
pub fn tenant_name_from_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default().to_ascii_lowercase();
    let mut name: String =
        local.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' }).collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "t-");
    }
    name.truncate(32);
    while name.len() < 2 {
        name.push('x');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for ok in ["ab", "my-app", "a1", "abcdefghijklmnopqrstuvwxyz0123"] {
            assert!(is_app_name(ok), "{ok} should be valid");
        }
        for bad in
            ["", "a", "1app", "-app", "app-", "my--app", "My-App", "my_app", "ä-app", "abcdefghijklmnopqrstuvwxyz01234"]
        {
            assert!(!is_app_name(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn hostnames() {
        for ok in ["example.com", "www.example.co.uk", "a-b.example.io", "x1.paas.localhost"] {
            assert!(is_hostname(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            "localhost",
            "Example.com",
            "-a.com",
            "a-.com",
            "a..com",
            "1.2.3.4",
            "a.com.",
            "a b.com",
            "ex_ample.com",
        ] {
            assert!(!is_hostname(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn config_keys() {
        assert!(is_config_key("DATABASE_URL"));
        assert!(is_config_key("_x"));
        assert!(!is_config_key("1X"));
        assert!(!is_config_key("A-B"));
        assert!(!is_config_key(""));
    }

    #[test]
    fn emails_and_tenants() {
        assert!(is_email("a@b.c"));
        assert!(!is_email("a b@c"));
        assert!(!is_email("@c"));
        assert!(!is_email("a@"));
        assert_eq!(tenant_name_from_email("Jane.Doe@x.org"), "jane-doe");
        assert_eq!(tenant_name_from_email("9@x.org"), "t-9");
        assert!(is_tenant_name(&tenant_name_from_email("_@x.org")));
    }
}
