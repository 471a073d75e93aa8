//! Build output as a person reads it: installer and app output kept (and
//! indented by the caller), container-engine step noise and terminal
//! escapes dropped. The engine's `Step N/M : RUN ...` lines are not shown
//! but remembered, so a failure can name its command.

/// One raw line of engine or installer output, classified.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cleaned {
    /// Worth showing, escapes removed.
    Show(String),
    /// A command is about to run (`Step 4/9 : RUN x`, or our `paas-run: x`).
    Command(String),
    /// Engine bookkeeping or blank.
    Drop,
}

/// Classifies one line of build output.
pub(super) fn clean(raw: &str) -> Cleaned {
    // A progress bar redraws with `\r`: only its last state matters.
    let last = raw.rsplit('\r').find(|s| !s.trim().is_empty()).unwrap_or("");
    let line = strip_escapes(last);
    let line = line.trim_end();
    if line.trim().is_empty() {
        return Cleaned::Drop;
    }
    if let Some(command) = line.strip_prefix("paas-run: ") {
        return Cleaned::Command(command.to_string());
    }
    if let Some(rest) = line.strip_prefix("Step ") {
        if let Some((_, instruction)) = rest.split_once(" : ") {
            return match instruction.strip_prefix("RUN ") {
                Some(command) => Cleaned::Command(command.to_string()),
                None => Cleaned::Drop,
            };
        }
    }
    let trimmed = line.trim_start();
    let noise = trimmed.starts_with("---> ")
        || trimmed == "--->"
        || trimmed.starts_with("Running in ")
        || trimmed.starts_with("Removing intermediate container")
        || trimmed.starts_with("Successfully built ")
        || trimmed.starts_with("Successfully tagged ")
        || trimmed.starts_with("Sending build context")
        || trimmed.starts_with("Using cache");
    if noise {
        Cleaned::Drop
    } else {
        Cleaned::Show(line.to_string())
    }
}

/// Removes ANSI/VT escape sequences (CSI `ESC [ ... final`, OSC
/// `ESC ] ... BEL|ESC \`, two-byte `ESC x`) and other control characters
/// except tabs.
pub(super) fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, up to a final byte in @..~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_noise_is_dropped_and_commands_remembered() {
        let cases: &[(&str, Cleaned)] = &[
            ("Step 7/14 : COPY --chown=10000:10000 src/ /app/", Cleaned::Drop),
            ("Step 9/14 : RUN uv pip install /app", Cleaned::Command("uv pip install /app".into())),
            (" ---> Running in 2f1e0c9ab3d4", Cleaned::Drop),
            (" ---> 5d2a9b8c7e6f", Cleaned::Drop),
            (" ---> Using cache", Cleaned::Drop),
            ("Removing intermediate container 2f1e0c9ab3d4", Cleaned::Drop),
            ("Successfully built 5d2a9b8c7e6f", Cleaned::Drop),
            ("Successfully tagged paas-app/shop:abc", Cleaned::Drop),
            ("Sending build context to Docker daemon  12.3kB", Cleaned::Drop),
            ("paas-run: uv pip install -r x", Cleaned::Command("uv pip install -r x".into())),
            ("", Cleaned::Drop),
            ("   ", Cleaned::Drop),
            ("Installed 7 packages in 12ms", Cleaned::Show("Installed 7 packages in 12ms".into())),
            (" + flask==3.1.0", Cleaned::Show(" + flask==3.1.0".into())),
            ("Successfully installed flask-3.1.0", Cleaned::Show("Successfully installed flask-3.1.0".into())),
        ];
        for (raw, expected) in cases {
            assert_eq!(&clean(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn escapes_and_progress_redraws_are_removed() {
        let cases: &[(&str, &str)] = &[
            ("\u{1b}[1m\u{1b}[32mResolved\u{1b}[0m 8 packages", "Resolved 8 packages"),
            ("\u{1b}[2K\u{1b}[1Gdone", "done"),
            ("\u{1b}]0;title\u{7}text", "text"),
            ("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
            ("50%\r75%\r100% done", "100% done"),
            ("tab\there", "tab\there"),
            ("bell\u{7}", "bell"),
        ];
        for (raw, expected) in cases {
            assert_eq!(clean(raw), Cleaned::Show(expected.to_string()), "{raw:?}");
        }
    }
}
