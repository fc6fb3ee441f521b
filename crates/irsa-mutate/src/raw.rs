//! Borrowed reading of raw JSON and direct writing of JSON text: the pod is never built
//! into a document tree. Objects are read as their members in order (`&RawValue` values
//! borrowed from the input), arrays as their raw elements, and what the patch carries
//! over unchanged is copied as the input's own text.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

/// The JSON type of a raw value, from its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Null,
    Other,
}

pub(crate) fn kind(raw: &RawValue) -> Kind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b'n') => Kind::Null,
        _ => Kind::Other,
    }
}

/// An object's members in document order. A repeated member keeps the place of its first
/// occurrence and the value of its last, as a map that preserves order reads it.
#[derive(Debug, Default)]
pub(crate) struct Members<'a>(pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The members of `raw`, which must be an object.
    pub(crate) fn of(raw: &'a RawValue) -> Option<Self> {
        if kind(raw) != Kind::Object {
            return None;
        }
        serde_json::from_str(raw.get()).ok()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The member's string value (`None` when absent or not a string).
    pub(crate) fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key).and_then(string)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut out: Vec<(Cow<'a, str>, &'a RawValue)> = Vec::new();
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => out.push((key, value)),
                    }
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A string, borrowed from the input unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The raw elements of `raw`, which must be an array.
pub(crate) fn elements(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if kind(raw) != Kind::Array {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// The string value of `raw` (`None` when it is not a string).
pub(crate) fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    if kind(raw) != Kind::String {
        return None;
    }
    serde_json::from_str::<Text<'_>>(raw.get())
        .ok()
        .map(|t| t.0)
}

/// The `name` member of an object element (env var, mount, volume, container): one
/// pass over the element, nothing else kept.
pub(crate) fn name_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Named<'a> {
        #[serde(borrow, default)]
        name: Option<&'a RawValue>,
    }
    if kind(raw) != Kind::Object {
        return None;
    }
    let named: Named<'_> = serde_json::from_str(raw.get()).ok()?;
    string(named.name?)
}

/// Appends `s` as a JSON string.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let needs_escape = |b: &u8| *b == b'"' || *b == b'\\' || *b < 0x20;
    if !s.as_bytes().iter().any(needs_escape) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if escaped.is_empty() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push_str(escaped);
        }
        start = i + c.len_utf8();
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Writes a JSON object from `(key, writer)` pairs.
pub(crate) struct ObjectWriter<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    pub(crate) fn new(out: &'o mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    /// Starts a member; the caller writes its value next.
    pub(crate) fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str(self.out, key);
        self.out.push(':');
        self.out
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        push_str(self.key(key), value);
    }

    pub(crate) fn raw(&mut self, key: &str, value: &str) {
        self.key(key).push_str(value);
    }

    pub(crate) fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn members_keep_order_and_last_value() {
        let r = raw(r#"{"b":1,"a":{"x":[1]},"b":2,"c\u0041":"s"}"#);
        let m = Members::of(r).unwrap();
        let keys: Vec<&str> = m.0.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "cA"]);
        assert_eq!(m.get("b").unwrap().get(), "2");
        assert_eq!(m.get("a").unwrap().get(), r#"{"x":[1]}"#);
        assert_eq!(m.str("cA").as_deref(), Some("s"));
        assert!(Members::of(raw("[1]")).is_none());
        assert!(Members::of(raw("null")).is_none());
    }

    #[test]
    fn kinds_and_strings() {
        assert_eq!(kind(raw(" {}")), Kind::Object);
        assert_eq!(kind(raw("[]")), Kind::Array);
        assert_eq!(kind(raw("null")), Kind::Null);
        assert_eq!(kind(raw("1")), Kind::Other);
        assert_eq!(string(raw(r#""a\"b""#)).as_deref(), Some("a\"b"));
        assert_eq!(string(raw("1")), None);
        assert!(matches!(
            string(raw(r#""plain""#)),
            Some(Cow::Borrowed("plain"))
        ));
        assert_eq!(elements(raw("[1, {}]")).unwrap().len(), 2);
        assert_eq!(name_of(raw(r#"{"name":"n"}"#)).as_deref(), Some("n"));
        assert_eq!(name_of(raw(r#"{"name":1}"#)), None);
    }

    #[test]
    fn strings_are_escaped_as_json() {
        for s in [
            "plain",
            "q\"b\\s",
            "line\nbreak\t\r",
            "\u{1}\u{1f}",
            "é ✓ 𝄞",
            "",
        ] {
            let mut out = String::new();
            push_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s, "{out}");
        }
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        o.str("a", "b");
        o.raw("c", "[1]");
        o.end();
        assert_eq!(out, r#"{"a":"b","c":[1]}"#);
    }
}
