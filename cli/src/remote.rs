//! The app a repository deploys to, read from its `paas` git remote.

/// The app named by a remote URL ending in `/git/<app>.git`.
pub fn app_from_remote(remote: &str) -> Option<String> {
    let output = std::process::Command::new("git").args(["remote", "get-url", remote]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    app_from_url(String::from_utf8_lossy(&output.stdout).trim())
}

fn app_from_url(url: &str) -> Option<String> {
    let (_, rest) = url.rsplit_once("/git/")?;
    let name = rest.trim_end_matches('/').strip_suffix(".git")?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn app_names_from_remote_urls() {
        assert_eq!(super::app_from_url("http://127.0.0.1:8080/git/shop.git").as_deref(), Some("shop"));
        assert_eq!(super::app_from_url("https://u:t@paas.example/git/my-app.git/").as_deref(), Some("my-app"));
        assert_eq!(super::app_from_url("https://github.com/x/y.git"), None);
    }
}
