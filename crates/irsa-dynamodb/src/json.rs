//! Bounded, borrowing JSON building blocks for request bodies: strings borrowed from the
//! body where they carry no escapes, objects whose member names are unique, lists with a
//! length limit. Nothing here materialises a value the mapping does not read, so the
//! memory a request needs is bounded by its body size.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON string, borrowed from the body unless it carries escapes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// How the messages of a collection over its limit start.
pub(crate) const TOO_MANY: &str = "Too many ";

/// The message DynamoDB answers for a member named twice.
pub(crate) const DUPLICATE_MEMBER: &str = "Duplicate member name found in a structure or map.";

/// A JSON object as its members in order, names unique (a name given twice is refused:
/// parsers disagree on which of the two wins), at most `MAX` of them.
#[derive(Debug, Clone)]
pub struct Members<'a, V, const MAX: usize>(pub Vec<(Str<'a>, V)>);

impl<'a, V, const MAX: usize> Members<'a, V, MAX> {
    /// The value of member `name`.
    pub fn get(&self, name: &str) -> Option<&V> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    }

    /// The member names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de: 'a, 'a, V: Deserialize<'de>, const MAX: usize> Deserialize<'de> for Members<'a, V, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<'a, V, const MAX: usize>(PhantomData<(&'a (), V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>, const MAX: usize> Visitor<'de> for Vis<'a, V, MAX> {
            type Value = Members<'a, V, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(Str<'a>, V)> = Vec::new();
                let mut seen: HashSet<Str<'a>> = HashSet::new();
                while let Some(key) = map.next_key::<Str<'a>>()? {
                    if out.len() >= MAX {
                        return Err(de::Error::custom(format!(
                            "{TOO_MANY}members in a map: at most {MAX} are allowed"
                        )));
                    }
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(DUPLICATE_MEMBER));
                    }
                    let value = map.next_value::<V>()?;
                    out.push((key, value));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Vis::<V, MAX>(PhantomData))
    }
}

/// A JSON list of at most `MAX` elements.
#[derive(Debug, Clone)]
pub struct List<T, const MAX: usize>(pub Vec<T>);

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for List<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<T, const MAX: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for Vis<T, MAX> {
            type Value = List<T, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<T>()? {
                    if out.len() >= MAX {
                        return Err(de::Error::custom(format!(
                            "{TOO_MANY}elements in a list: at most {MAX} are allowed"
                        )));
                    }
                    out.push(v);
                }
                Ok(List(out))
            }
        }
        d.deserialize_seq(Vis::<T, MAX>(PhantomData))
    }
}

/// A raw JSON value borrowed from the body, parsed only when needed.
pub(crate) type Raw<'a> = &'a RawValue;

/// Parses `raw` as `T`.
pub(crate) fn parse<'a, T: Deserialize<'a>>(raw: Raw<'a>) -> Result<T, serde_json::Error> {
    serde_json::from_str(raw.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_refuse_duplicates_and_bound_their_count() {
        let ok: Members<'_, u8, 3> = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        assert_eq!(ok.get("b"), Some(&2));
        assert!(matches!(ok.0[0].0.0, Cow::Borrowed(_)));
        let dup = serde_json::from_str::<Members<'_, u8, 3>>(r#"{"a":1,"a":2}"#).unwrap_err();
        assert!(dup.to_string().contains(DUPLICATE_MEMBER));
        // Escapes decode first: "\u0061" is "a".
        assert!(serde_json::from_str::<Members<'_, u8, 3>>(r#"{"a":1,"\u0061":2}"#).is_err());
        assert!(
            serde_json::from_str::<Members<'_, u8, 3>>(r#"{"a":1,"b":2,"c":3,"d":4}"#).is_err()
        );
        assert!(serde_json::from_str::<List<u8, 2>>("[1,2,3]").is_err());
        assert_eq!(
            serde_json::from_str::<List<u8, 2>>("[1,2]").unwrap().0,
            vec![1, 2]
        );
    }
}
