//! Wildcard patterns and policy-variable templates, compiled once at parse time.
//!
//! A pattern is a list of tokens: literal text, `*` (any run, possibly empty), `?` (one
//! character) and `${key}` / `${key, 'default'}` variables. Matching is a hand-written glob
//! matcher (greedy with single-star backtracking), linear in practice and allocation-free
//! unless a variable has to be substituted.

use crate::context::Context;
use compact_str::CompactString;
use std::borrow::Cow;

/// `*` or `?` in `s` (a byte scan: both are ASCII).
#[inline]
pub(crate) fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'?')
}

/// `${` in `s`: the text may hold a policy variable.
#[inline]
pub(crate) fn has_variable(s: &str) -> bool {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = b
        .get(from..)
        .and_then(|r| r.iter().position(|&c| c == b'$'))
    {
        if b.get(from + i + 1) == Some(&b'{') {
            return true;
        }
        from += i + 1;
    }
    false
}

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(Box<str>),
    Star,
    Any,
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// How text is turned into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise literal).
    pub wildcards: bool,
    /// `${...}` is a policy variable (Version 2012-10-17 only).
    pub variables: bool,
    /// Lowercase literal text (case-insensitive matching).
    pub fold: bool,
}

/// A compiled pattern. Without policy variables (the common case) it is the text itself
/// (lowercased when folding), matched by a byte glob: one allocation, no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
    has_vars: bool,
    fold: bool,
    /// The whole pattern when it holds no variable (`toks` is then empty).
    plain: Option<CompactString>,
    /// `*` and `?` are wildcards in `plain`.
    wildcards: bool,
}

impl Pattern {
    pub(crate) fn compile(text: &str, syntax: Syntax) -> Pattern {
        let vars = syntax.variables && has_variable(text);
        if !vars && (!syntax.fold || text.is_ascii()) {
            // Inline up to 24 bytes: most condition values need no allocation.
            let plain = if syntax.fold && text.bytes().any(|b| b.is_ascii_uppercase()) {
                let mut lower = CompactString::new(text);
                lower.make_ascii_lowercase();
                lower
            } else {
                CompactString::new(text)
            };
            return Pattern {
                toks: Vec::new(),
                has_vars: false,
                fold: syntax.fold,
                wildcards: syntax.wildcards && has_wildcard(&plain),
                plain: Some(plain),
            };
        }
        Pattern::compile_toks(text, syntax)
    }

    fn compile_toks(text: &str, syntax: Syntax) -> Pattern {
        let mut toks: Vec<Tok> = Vec::new();
        let mut lit = String::new();
        let mut has_vars = false;
        let push_lit = |toks: &mut Vec<Tok>, lit: &mut String| {
            if !lit.is_empty() {
                let s = std::mem::take(lit);
                toks.push(Tok::Lit(s.into_boxed_str()));
            }
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if syntax.variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = rest.get(2..end).unwrap_or_default();
                rest = rest.get(end + 1..).unwrap_or_default();
                match inner {
                    "*" | "?" | "$" => lit.push_str(inner),
                    _ => {
                        push_lit(&mut toks, &mut lit);
                        let (key, default) = match inner.split_once(',') {
                            Some((k, d)) => {
                                let d = d.trim();
                                let d = d
                                    .strip_prefix('\'')
                                    .and_then(|d| d.strip_suffix('\''))
                                    .unwrap_or(d);
                                let d = if syntax.fold {
                                    d.to_lowercase()
                                } else {
                                    d.to_owned()
                                };
                                (k.trim(), Some(d.into_boxed_str()))
                            }
                            None => (inner.trim(), None),
                        };
                        toks.push(Tok::Var {
                            key: key.to_lowercase().into_boxed_str(),
                            default,
                        });
                        has_vars = true;
                    }
                }
                continue;
            }
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
            match c {
                '*' if syntax.wildcards => {
                    push_lit(&mut toks, &mut lit);
                    // Collapse runs of stars.
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                '?' if syntax.wildcards => {
                    push_lit(&mut toks, &mut lit);
                    toks.push(Tok::Any);
                }
                _ if syntax.fold => lit.extend(c.to_lowercase()),
                _ => lit.push(c),
            }
        }
        push_lit(&mut toks, &mut lit);
        Pattern {
            toks,
            has_vars,
            fold: syntax.fold,
            plain: None,
            wildcards: syntax.wildcards,
        }
    }

    /// A pattern that is exactly `*`.
    pub(crate) fn is_match_all(&self) -> bool {
        match &self.plain {
            Some(p) => self.wildcards && p.bytes().all(|b| b == b'*') && !p.is_empty(),
            None => matches!(self.toks.as_slice(), [Tok::Star]),
        }
    }

    /// The pattern ends with `*`.
    pub(crate) fn ends_with_star(&self) -> bool {
        match &self.plain {
            Some(p) => self.wildcards && p.ends_with('*'),
            None => matches!(self.toks.last(), Some(Tok::Star)),
        }
    }

    #[cfg(test)]
    pub(crate) fn has_vars(&self) -> bool {
        self.has_vars
    }

    /// The pattern's tokens with variables substituted from `ctx`. `None` when a variable
    /// has no single value and no default.
    pub(crate) fn resolve<'a>(&'a self, ctx: &Context) -> Option<Cow<'a, [Tok]>> {
        if let Some(p) = &self.plain {
            return Some(Cow::Owned(plain_toks(p, self.wildcards)));
        }
        if !self.has_vars {
            return Some(Cow::Borrowed(&self.toks));
        }
        let mut out = Vec::with_capacity(self.toks.len());
        for t in &self.toks {
            match t {
                Tok::Var { key, default } => {
                    let v: Box<str> = match ctx.get_single_lower(key) {
                        Some(v) if self.fold => v.to_lowercase().into_boxed_str(),
                        Some(v) => v.into(),
                        None => default.clone()?,
                    };
                    out.push(Tok::Lit(v));
                }
                other => out.push(other.clone()),
            }
        }
        Some(Cow::Owned(out))
    }

    /// Matches `text` (variables resolved from `ctx`; an unresolvable variable never matches).
    pub(crate) fn matches(&self, text: &str, ctx: &Context) -> bool {
        if !self.has_vars {
            return self.matches_plain(text);
        }
        if !self.fold {
            // Substitute variables while matching: no allocation.
            return match_toks_ctx(&self.toks, text, false, Some(ctx));
        }
        match self.resolve(ctx) {
            Some(toks) => match_toks(&toks, text, self.fold),
            None => false,
        }
    }

    /// Matches without a context (variables never match).
    pub(crate) fn matches_plain(&self, text: &str) -> bool {
        if let Some(p) = &self.plain {
            if self.fold && !text.is_ascii() {
                return glob_bytes(
                    p.as_bytes(),
                    text.to_lowercase().as_bytes(),
                    self.wildcards,
                    false,
                );
            }
            return glob_bytes(p.as_bytes(), text.as_bytes(), self.wildcards, self.fold);
        }
        if self.fold && !text.is_ascii() {
            return match_toks(&self.toks, &text.to_lowercase(), true);
        }
        match_toks(&self.toks, text, self.fold)
    }
}

/// The tokens of a plain pattern (for callers that need them; matching uses `glob_bytes`).
fn plain_toks(p: &str, wildcards: bool) -> Vec<Tok> {
    if !wildcards {
        return if p.is_empty() {
            Vec::new()
        } else {
            vec![Tok::Lit(Box::from(p))]
        };
    }
    let mut toks = Vec::new();
    let mut start = 0;
    for (i, c) in p.char_indices() {
        if c == '*' || c == '?' {
            if let Some(lit) = p.get(start..i).filter(|l| !l.is_empty()) {
                toks.push(Tok::Lit(Box::from(lit)));
            }
            if c == '?' {
                toks.push(Tok::Any);
            } else if toks.last() != Some(&Tok::Star) {
                toks.push(Tok::Star);
            }
            start = i + 1;
        }
    }
    if let Some(lit) = p.get(start..).filter(|l| !l.is_empty()) {
        toks.push(Tok::Lit(Box::from(lit)));
    }
    toks
}

/// Glob match of pattern bytes against text bytes: `*` any run, `?` one UTF-8 character
/// (when `wildcards`), other bytes literal; with `fold`, bytes compare
/// ASCII-case-insensitively. Greedy with single-star backtracking.
#[inline]
pub(crate) fn glob_bytes(p: &[u8], t: &[u8], wildcards: bool, fold: bool) -> bool {
    if !wildcards {
        return if fold {
            p.eq_ignore_ascii_case(t)
        } else {
            p == t
        };
    }
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some(b'?') => {
                if let Some(&b) = t.get(ti) {
                    ti += char_len(b);
                    pi += 1;
                    continue;
                }
            }
            Some(&c) => {
                if let Some(&b) = t.get(ti)
                    && (c == b || (fold && c.eq_ignore_ascii_case(&b)))
                {
                    pi += 1;
                    ti += 1;
                    continue;
                }
            }
            None if ti >= t.len() => return true,
            None => {}
        }
        match star {
            Some((sp, st)) => match t.get(st) {
                Some(&b) => {
                    let nt = st + char_len(b);
                    star = Some((sp, nt));
                    pi = sp;
                    ti = nt;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[inline]
fn char_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[inline]
fn lit_at(text: &[u8], pos: usize, lit: &[u8], fold: bool) -> bool {
    match text.get(pos..pos + lit.len()) {
        Some(t) if fold => t.iter().zip(lit).all(|(a, b)| a.to_ascii_lowercase() == *b),
        Some(t) => t == lit,
        None => false,
    }
}

/// Glob match of resolved tokens against `text`. With `fold`, literal tokens are lowercase
/// and `text` is compared ASCII-case-insensitively. A `Var` token never matches.
pub(crate) fn match_toks(toks: &[Tok], text: &str, fold: bool) -> bool {
    match_toks_ctx(toks, text, fold, None)
}

/// [`match_toks`], with `Var` tokens resolved from `ctx` as literal text (case-sensitive).
fn match_toks_ctx(toks: &[Tok], text: &str, fold: bool, ctx: Option<&Context>) -> bool {
    // Fast paths for the common shapes.
    match toks {
        [] => return text.is_empty(),
        [Tok::Star] => return true,
        [Tok::Lit(l)] => {
            return if fold {
                text.len() == l.len() && lit_at(text.as_bytes(), 0, l.as_bytes(), true)
            } else {
                text == &**l
            };
        }
        _ => {}
    }
    let t = text.as_bytes();
    let (mut ti, mut pos) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = toks.get(ti) {
            match tok {
                Tok::Star => {
                    star = Some((ti + 1, pos));
                    ti += 1;
                    continue;
                }
                Tok::Any => {
                    if let Some(&b) = t.get(pos) {
                        pos += char_len(b);
                        ti += 1;
                        continue;
                    }
                }
                Tok::Lit(l) => {
                    if lit_at(t, pos, l.as_bytes(), fold) {
                        pos += l.len();
                        ti += 1;
                        continue;
                    }
                }
                Tok::Var { key, default } => {
                    let value = ctx
                        .and_then(|c| c.get_single_lower(key))
                        .or(default.as_deref());
                    if let Some(v) = value
                        && lit_at(t, pos, v.as_bytes(), false)
                    {
                        pos += v.len();
                        ti += 1;
                        continue;
                    }
                }
            }
        } else if pos >= t.len() {
            return true;
        }
        match star {
            Some((sti, spos)) => match t.get(spos) {
                Some(&b) => {
                    let np = spos + char_len(b);
                    star = Some((sti, np));
                    ti = sti;
                    pos = np;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

/// Glob match of a plain wildcard pattern string (`*`, `?`), case-sensitive. For tests and
/// one-off callers; engines use compiled patterns.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    Pattern::compile(
        pattern,
        Syntax {
            wildcards: true,
            variables: false,
            fold: false,
        },
    )
    .matches_plain(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIKE: Syntax = Syntax {
        wildcards: true,
        variables: true,
        fold: false,
    };

    #[test]
    fn glob_truth_table() {
        let cases = [
            ("*", "", true),
            ("*", "abc", true),
            ("a*", "abc", true),
            ("a*c", "abc", true),
            ("a*c", "abd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a??", "abc", true),
            ("*b*", "abc", true),
            ("*x*", "abc", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("abc", "ABC", false),
            ("table/*", "table/a/index/b", true),
            ("a:*", "a:b:c", true),
            ("é?", "éü", true),
            ("?", "ü", true),
            ("??", "ü", false),
            ("*a", "aaaaaaaaaaaaaaaaaaaab", false),
            ("", "", true),
            ("", "a", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_match(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn fold_matching() {
        let p = Pattern::compile(
            "s3:Get*",
            Syntax {
                wildcards: true,
                variables: false,
                fold: true,
            },
        );
        assert!(p.matches_plain("S3:GETOBJECT"));
        assert!(p.matches_plain("s3:getobject"));
        assert!(!p.matches_plain("s3:PutObject"));
    }

    #[test]
    fn variables_resolve_and_escape() {
        let mut ctx = Context::new();
        ctx.insert("aws:username", "alice");
        let p = Pattern::compile("home/${aws:UserName}/*", LIKE);
        assert!(p.has_vars());
        assert!(p.matches("home/alice/x", &ctx));
        assert!(!p.matches("home/bob/x", &ctx));
        let esc = Pattern::compile("a${*}b${?}${$}", LIKE);
        assert!(!esc.has_vars());
        assert!(esc.matches("a*b?$", &ctx));
        assert!(!esc.matches("aXb?$", &ctx));
        let def = Pattern::compile("${aws:PrincipalTag/team, 'company-wide'}", LIKE);
        assert!(def.matches("company-wide", &ctx));
        let missing = Pattern::compile("${aws:PrincipalTag/team}", LIKE);
        assert!(!missing.matches("", &ctx));
        let literal = Pattern::compile(
            "${aws:username}",
            Syntax {
                variables: false,
                ..LIKE
            },
        );
        assert!(literal.matches("${aws:username}", &ctx));
    }

    #[test]
    fn variable_values_are_literal() {
        let mut ctx = Context::new();
        ctx.insert("k", "a*");
        let p = Pattern::compile("${k}", LIKE);
        assert!(p.matches("a*", &ctx));
        assert!(!p.matches("abc", &ctx));
    }
}
