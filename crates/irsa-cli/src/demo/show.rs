//! Terminal output of `irsa demo`: headings, narrative, code blocks, diffs and checks.
//! Colors only when asked (a terminal without NO_COLOR).

use std::io::Write as _;

pub(crate) struct Out {
    color: bool,
    buf: String,
    step: usize,
    passed: usize,
    deviations: Vec<String>,
}

const WIDTH: usize = 88;

impl Out {
    pub fn new(color: bool) -> Out {
        Out {
            color,
            buf: String::new(),
            step: 0,
            passed: 0,
            deviations: Vec::new(),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    fn line(&mut self, s: &str) {
        self.buf.push_str(s);
        self.buf.push('\n');
        self.flush();
    }

    /// Writes what is buffered to stdout.
    pub fn flush(&mut self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.buf.as_bytes());
        let _ = out.flush();
        self.buf.clear();
    }

    pub fn title(&mut self, s: &str) {
        let t = self.paint("1", s);
        self.line(&t);
        self.line("");
    }

    pub fn step(&mut self, title: &str) {
        self.step += 1;
        let t = format!("── {}. {title} ", self.step);
        let pad = WIDTH.saturating_sub(t.chars().count());
        let h = self.paint("1;36", &format!("{t}{}", "─".repeat(pad)));
        self.line("");
        self.line(&h);
    }

    /// A paragraph, wrapped.
    pub fn say(&mut self, text: &str) {
        for l in wrap(text, WIDTH) {
            self.line(&l);
        }
    }

    pub fn label(&mut self, text: &str) {
        let t = self.paint("1", text);
        self.line(&t);
    }

    /// An indented block (YAML, JSON, SDK output).
    pub fn code(&mut self, text: &str) {
        for l in text.lines() {
            let t = self.paint("2", "│ ");
            self.line(&format!("  {t}{l}"));
        }
    }

    /// A unified diff of `before` → `after`.
    pub fn diff(&mut self, before: &str, after: &str) {
        let diff = similar::TextDiff::from_lines(before, after);
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header("pod (as submitted)", "pod (as admitted)")
            .to_string();
        for l in text.lines() {
            let painted = match l.chars().next() {
                Some('+') if !l.starts_with("+++") => self.paint("32", l),
                Some('-') if !l.starts_with("---") => self.paint("31", l),
                Some('@') => self.paint("36", l),
                _ => l.to_owned(),
            };
            self.line(&format!("  {painted}"));
        }
    }

    /// Records whether the step behaved as the story says.
    pub fn check(&mut self, ok: bool, good: &str, bad: &str) {
        if ok {
            self.passed += 1;
            let mark = self.paint("1;32", "✔");
            self.line(&format!("{mark} {good}"));
        } else {
            let msg = format!("step {}: {bad}", self.step);
            let mark = self.paint("1;31", "✘ DEVIATION:");
            self.line(&format!("{mark} {bad}"));
            self.deviations.push(msg);
        }
    }

    /// Prints the summary; the exit code.
    pub fn finish(mut self) -> u8 {
        self.line("");
        if self.deviations.is_empty() && self.passed > 0 {
            let t = self.paint(
                "1;32",
                &format!(
                    "Every step behaved as the story says ({} checks).",
                    self.passed
                ),
            );
            self.line(&t);
            self.flush();
            0
        } else {
            let t = self.paint(
                "1;31",
                &format!(
                    "{} of {} checks deviated from the story:",
                    self.deviations.len(),
                    self.deviations.len() + self.passed
                ),
            );
            self.line(&t);
            for d in std::mem::take(&mut self.deviations) {
                self.line(&format!("  - {d}"));
            }
            self.flush();
            1
        }
    }
}

/// Greedy word wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_width() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
        assert_eq!(wrap("toolongword x", 4), vec!["toolongword", "x"]);
    }

    #[test]
    fn no_escape_codes_without_color() {
        let o = Out::new(false);
        assert_eq!(o.paint("1", "x"), "x");
        let o = Out::new(true);
        assert_eq!(o.paint("1", "x"), "\x1b[1mx\x1b[0m");
    }
}
