//! The Python version an app asks for (`.python-version`, `runtime.txt`,
//! `requires-python`) against the one the image runs. The image has one
//! Python; a mismatch is a warning in the build output, not a failure.

use std::path::Path;

use super::deps;
use crate::detect::read_small;

/// What the app asked for, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub file: &'static str,
    /// As written (`3.12`, `python-3.12.1`, `>=3.12`).
    pub asked: String,
    /// A PEP 440 specifier equivalent (`==3.12.*`, `>=3.12`).
    spec: String,
}

/// The first version request found, in Heroku's order of precedence.
pub fn requested(root: &Path) -> Option<Requested> {
    let first_line = |file: &str| {
        read_small(&root.join(file))
            .ok()
            .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string))
    };
    if let Some(line) = first_line(".python-version") {
        let version = line.trim_start_matches("cpython").trim_start_matches(['-', '@']).to_string();
        return Some(Requested { file: ".python-version", spec: pin(&version), asked: line });
    }
    if let Some(line) = first_line("runtime.txt") {
        let version = line.trim_start_matches("python-").to_string();
        return Some(Requested { file: "runtime.txt", spec: pin(&version), asked: line });
    }
    let spec = deps::requires_python(root)?;
    Some(Requested { file: "pyproject.toml requires-python", asked: spec.clone(), spec })
}

/// `3.12` means any 3.12.x; `3.12.1` exactly that.
fn pin(version: &str) -> String {
    if version.split('.').count() >= 3 {
        format!("=={version}")
    } else {
        format!("=={version}.*")
    }
}

impl Requested {
    /// The warning line when `running` (e.g. `3.11.2`) does not satisfy
    /// the request; `None` when it does or the request cannot be read.
    pub fn warning(&self, running: &str) -> Option<String> {
        let have = parse(running)?;
        let ok =
            self.spec.split(',').map(str::trim).filter(|c| !c.is_empty()).all(|c| satisfies(&have, c).unwrap_or(true));
        (!ok).then(|| {
            format!(
                "Warning: {} asks for Python {}, this platform runs Python {running}; building with {running}",
                self.file, self.asked
            )
        })
    }

    /// The lowest version the request names (for installers that check it).
    pub fn version(&self) -> Option<String> {
        let digits = self.spec.trim_start_matches(|c: char| !c.is_ascii_digit());
        let version: String = digits.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let version = version.trim_end_matches('.').to_string();
        (!version.is_empty()).then_some(version)
    }
}

fn parse(version: &str) -> Option<Vec<u64>> {
    version.trim().split('.').map(|p| p.parse().ok()).collect()
}

/// One PEP 440 clause (`>=3.12`, `==3.11.*`, `~=3.10`, `!=3.9`); `None`
/// when it cannot be read.
fn satisfies(have: &[u64], clause: &str) -> Option<bool> {
    let op_len = clause.find(|c: char| c.is_ascii_digit())?;
    let (op, version) = (clause[..op_len].trim(), clause[op_len..].trim());
    let wildcard = version.ends_with(".*");
    let want = parse(version.trim_end_matches(".*"))?;
    let cmp = |len: usize| {
        let pad = |v: &[u64]| (0..len).map(|i| v.get(i).copied().unwrap_or(0)).collect::<Vec<_>>();
        pad(have).cmp(&pad(&want))
    };
    let full = have.len().max(want.len());
    use std::cmp::Ordering::*;
    Some(match op {
        "==" | "===" if wildcard => cmp(want.len()) == Equal,
        "==" | "===" => cmp(full) == Equal,
        "!=" if wildcard => cmp(want.len()) != Equal,
        "!=" => cmp(full) != Equal,
        ">=" => cmp(full) != Less,
        "<=" => cmp(full) != Greater,
        ">" => cmp(full) == Greater,
        "<" => cmp(full) == Less,
        "~=" => cmp(full) != Less && cmp(want.len().saturating_sub(1).max(1)) == Equal,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(file: &'static str, asked: &str, spec: &str) -> Requested {
        Requested { file, asked: asked.into(), spec: spec.into() }
    }

    #[test]
    fn versions_against_the_image() {
        let cases: &[(&str, &str, bool)] = &[
            ("==3.11.*", "3.11.2", true),
            ("==3.12.*", "3.11.2", false),
            ("==3.11.2", "3.11.2", true),
            ("==3.11.4", "3.11.2", false),
            (">=3.9", "3.11.2", true),
            (">=3.12", "3.11.2", false),
            (">=3.8,<3.11", "3.11.2", false),
            (">=3.8, <4", "3.11.2", true),
            ("~=3.10", "3.11.2", true),
            ("~=3.11.5", "3.11.2", false),
            ("!=3.11.*", "3.11.2", false),
            ("<=3.11", "3.11.2", false),
        ];
        for (spec, running, ok) in cases {
            let warning = request("x", spec, spec).warning(running);
            assert_eq!(warning.is_none(), *ok, "{spec} vs {running}: {warning:?}");
        }
    }

    #[test]
    fn requests_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("runtime.txt"), "python-3.12.1\n").unwrap();
        let r = requested(dir.path()).unwrap();
        assert_eq!((r.file, r.asked.as_str(), r.spec.as_str()), ("runtime.txt", "python-3.12.1", "==3.12.1"));
        assert_eq!(r.version().as_deref(), Some("3.12.1"));
        std::fs::write(dir.path().join(".python-version"), "# pinned\n3.13\n").unwrap();
        let r = requested(dir.path()).unwrap();
        assert_eq!(r.file, ".python-version");
        assert_eq!(
            r.warning("3.11.2").as_deref(),
            Some(
                "Warning: .python-version asks for Python 3.13, this platform runs Python 3.11.2; building with 3.11.2"
            )
        );
    }
}
