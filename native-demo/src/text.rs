//! Small formatting helpers shared by the sub-commands.
//!
//! Engine errors are full sentences ("The image file is empty."); the command
//! line embeds them after a prefix ("error: photo a/b.jpg: ..."), so they are
//! turned into clauses: first letter lowered (unless it starts an acronym such
//! as "PNG") and the final period dropped.

use std::io::Write;

/// An engine error as a clause that reads well after a prefix.
pub fn clause(e: impl std::fmt::Display) -> String {
    let s = e.to_string();
    let s = s.strip_suffix('.').unwrap_or(&s);
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && !b.is_uppercase() => {
            a.to_lowercase().chain(s[a.len_utf8()..].chars()).collect()
        }
        _ => s.to_string(),
    }
}

/// Bytes to MiB for reports.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// A line on stdout that does not panic when the reader went away
/// (`icnet info | head`).
pub fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

/// Seconds as "12.3 s" or "850 ms", whichever reads better.
pub fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} ms", s * 1e3)
    }
}

/// `label: a, b, c` wrapped at about 100 columns, continuation lines
/// indented to line up under the first item.
pub fn wrapped_list(label: &str, items: &[&str]) -> Vec<String> {
    const WIDTH: usize = 100;
    if items.is_empty() {
        return vec![format!("{label}none")];
    }
    let indent = " ".repeat(label.len());
    let mut lines = Vec::new();
    let mut line = label.to_string();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.to_string()
        };
        if line.len() > label.len() && line.len() + 1 + piece.len() > WIDTH {
            lines.push(std::mem::replace(&mut line, indent.clone()));
        } else if line.len() > label.len() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses() {
        assert_eq!(
            clause("The image file is empty."),
            "the image file is empty"
        );
        assert_eq!(clause("PNG data is bad."), "PNG data is bad");
        assert_eq!(clause("no adapter"), "no adapter");
        assert_eq!(clause(""), "");
    }

    #[test]
    fn wraps() {
        let items = ["aaaaaaaaaaaaaaaaaaaa"; 6]; // four fit on a line
        let lines = wrapped_list("  x: ", &items);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.len() <= 100));
        assert!(lines[1].starts_with("     aaaa"));
        assert_eq!(wrapped_list("x: ", &[]), ["x: none"]);
    }

    #[test]
    fn seconds() {
        assert_eq!(secs(12.34), "12.3 s");
        assert_eq!(secs(0.0123), "12 ms");
    }
}
