//! The policy grammar read straight from JSON text with serde: no `serde_json::Value` tree,
//! strings borrowed from the input unless they hold escapes. Every deviation from the
//! grammar is an error (which the caller reports as `Syntax errors in policy.`): unknown or
//! duplicate keys (IAM's grammar forbids duplicates, and parsers that disagree on which
//! duplicate wins are a classic policy bypass), wrong types, nested arrays.

use crate::condition::Operator;
use crate::policy::{
    ActionPattern, ConditionBlock, ConditionEntry, Element, Errors, Items, ResourcePattern,
    action_item, condition_block, condition_entry, resource_item, unknown_block,
};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// A JSON string, borrowed when it has no escapes.
#[derive(Debug)]
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// One value or several: a bare value (the common case) needs no vector.
#[derive(Debug)]
pub(crate) enum List<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> std::ops::Deref for List<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            List::One(x) => std::slice::from_ref(x),
            List::Many(v) => v,
        }
    }
}

/// The by-value iterator of a [`List`].
pub(crate) enum ListIter<T> {
    One(Option<T>),
    Many(std::vec::IntoIter<T>),
}

impl<T> Iterator for ListIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self {
            ListIter::One(x) => x.take(),
            ListIter::Many(it) => it.next(),
        }
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = ListIter<T>;
    fn into_iter(self) -> ListIter<T> {
        match self {
            List::One(x) => ListIter::One(Some(x)),
            List::Many(v) => ListIter::Many(v.into_iter()),
        }
    }
}

/// A string or an array of strings; `single` when written as a bare string.
#[derive(Debug)]
pub(crate) struct Strings<'a> {
    pub(crate) items: List<Cow<'a, str>>,
    pub(crate) single: bool,
}

impl<'de> Deserialize<'de> for Strings<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Strings<'de>, E> {
                Ok(Strings {
                    items: List::One(Cow::Borrowed(v)),
                    single: true,
                })
            }
            fn visit_str<E>(self, v: &str) -> Result<Strings<'de>, E> {
                Ok(Strings {
                    items: List::One(Cow::Owned(v.to_owned())),
                    single: true,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
                while let Some(Str(s)) = seq.next_element()? {
                    items.push(s);
                }
                Ok(Strings {
                    items: List::Many(items),
                    single: false,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A condition value as written: a string, a number (its JSON text) or a boolean.
#[derive(Debug)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(serde_json::Number),
    Bool(bool),
}

impl Scalar<'_> {
    /// The value as the engine compares it (`true`, `10`).
    pub(crate) fn text(&self) -> String {
        match self {
            Scalar::Str(s) => s.to_string(),
            Scalar::Num(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    pub(crate) fn to_value(&self) -> serde_json::Value {
        match self {
            Scalar::Str(s) => serde_json::Value::String(s.to_string()),
            Scalar::Num(n) => serde_json::Value::Number(n.clone()),
            Scalar::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Num(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
        serde_json::Number::from_f64(v)
            .map(Scalar::Num)
            .ok_or_else(|| E::custom("not a finite number"))
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// The values of one condition key: a scalar or an array of scalars.
#[derive(Debug)]
pub(crate) struct Scalars<'a> {
    pub(crate) items: List<Scalar<'a>>,
    pub(crate) single: bool,
}

impl<'de> Deserialize<'de> for Scalars<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalars<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar or an array of scalars")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalars<'de>, E> {
                Ok(one(Scalar::Str(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalars<'de>, E> {
                Ok(one(Scalar::Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalars<'de>, E> {
                Ok(one(Scalar::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalars<'de>, E> {
                Ok(one(Scalar::Num(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalars<'de>, E> {
                Ok(one(Scalar::Num(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalars<'de>, E> {
                ScalarVisitor.visit_f64(v).map(one)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalars<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(64));
                while let Some(x) = seq.next_element()? {
                    items.push(x);
                }
                Ok(Scalars {
                    items: List::Many(items),
                    single: false,
                })
            }
        }
        fn one(s: Scalar<'_>) -> Scalars<'_> {
            Scalars {
                items: List::One(s),
                single: true,
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object with arbitrary keys, in document order; a repeated key is an error.
#[derive(Debug)]
pub(crate) struct Entries<'a, T>(pub(crate) Vec<(Cow<'a, str>, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<'de, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Entries<'de, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de, T>, A::Error> {
                let mut out: Vec<(Cow<'de, str>, T)> = Vec::new();
                while let Some(Str(k)) = map.next_key()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    let v = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `Principal`/`NotPrincipal`: `"*"` or a map of principal types to values.
#[derive(Debug)]
pub(crate) enum RawPrincipal<'a> {
    Star,
    Typed(Entries<'a, Strings<'a>>),
}

impl<'de> Deserialize<'de> for RawPrincipal<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPrincipal<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"*\" or a principal map")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPrincipal<'de>, E> {
                if v == "*" {
                    Ok(RawPrincipal::Star)
                } else {
                    Err(E::custom("a principal string must be \"*\""))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawPrincipal<'de>, A::Error> {
                Entries::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawPrincipal::Typed)
            }
        }
        d.deserialize_any(V)
    }
}

/// One statement, its elements as written.
#[derive(Debug, Default)]
pub(crate) struct RawStatement<'a> {
    pub(crate) sid: Option<Cow<'a, str>>,
    pub(crate) effect: Option<Cow<'a, str>>,
    /// (`NotPrincipal`, value).
    pub(crate) principal: Option<(bool, RawPrincipal<'a>)>,
    /// (`NotAction`, values).
    pub(crate) action: Option<(bool, Strings<'a>)>,
    /// (`NotResource`, values).
    pub(crate) resource: Option<(bool, Strings<'a>)>,
    /// Operator → key → values (read without knowing the policy version).
    pub(crate) condition: Option<Entries<'a, Entries<'a, Scalars<'a>>>>,
    /// The condition built as it was read (the version known), with its non-syntax errors.
    pub(crate) built_condition: Option<(Vec<ConditionBlock>, Errors)>,
    /// `Action`/`NotAction` built as it was read, with its non-syntax errors.
    pub(crate) built_action: Option<(Element<ActionPattern>, Errors)>,
    /// `Resource`/`NotResource` built as it was read, with its non-syntax errors.
    pub(crate) built_resource: Option<(Element<ResourcePattern>, Errors)>,
}

/// A string or an array of strings, each turned into an item by `f` as it is read (no
/// vector of the strings); the items and whether a bare string was written.
struct ItemsSeed<F> {
    f: F,
}

impl<'de, T, F: FnMut(&str) -> T> de::DeserializeSeed<'de> for ItemsSeed<F> {
    type Value = (Vec<T>, bool);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T, F: FnMut(&str) -> T> Visitor<'de> for ItemsSeed<F> {
    type Value = (Vec<T>, bool);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }
    fn visit_str<E>(mut self, v: &str) -> Result<Self::Value, E> {
        Ok((vec![(self.f)(v)], true))
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(Str(s)) = seq.next_element()? {
            items.push((self.f)(&s));
        }
        Ok((items, false))
    }
}

/// Reads an `Action`/`NotAction` or `Resource`/`NotResource` (`negated`) value into its
/// compiled element, each item compiled by `item` as it is read.
fn read_element<'de, A: MapAccess<'de>, T>(
    map: &mut A,
    negated: bool,
    mut item: impl FnMut(&str, &mut Errors) -> T,
) -> Result<(Element<T>, Errors), A::Error> {
    let mut errors = Errors::new();
    let (items, single) = map.next_value_seed(ItemsSeed {
        f: |s: &str| item(s, &mut errors),
    })?;
    Ok((
        Element {
            negated,
            items,
            single,
        },
        errors,
    ))
}

/// Reads a `Condition` element straight into condition blocks (no intermediate maps or
/// value vectors): repeated operators or keys are errors, as in [`Entries`].
struct ConditionSeed {
    vars: bool,
}

impl<'de> de::DeserializeSeed<'de> for ConditionSeed {
    type Value = (Vec<ConditionBlock>, Errors);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ConditionSeed {
    type Value = (Vec<ConditionBlock>, Errors);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a condition object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Most conditions have one operator with one key: no spare capacity for them.
        let mut blocks: Vec<ConditionBlock> = Vec::with_capacity(1);
        let mut errors: Errors = Vec::new();
        while let Some(Str(name)) = map.next_key()? {
            if blocks.iter().any(|b| b.written_as(&name)) {
                return Err(de::Error::custom("duplicate key"));
            }
            match Operator::parse(&name) {
                // An unknown operator is allowed with an empty body.
                None => {
                    map.next_value_seed(EmptyBody)?;
                    blocks.push(unknown_block(&name));
                }
                Some(op) => {
                    let entries = map.next_value_seed(BodySeed {
                        op,
                        vars: self.vars,
                        errors: &mut errors,
                    })?;
                    blocks.push(condition_block(op, &name, entries));
                }
            }
        }
        Ok((blocks, errors))
    }
}

/// An object that must be empty.
struct EmptyBody;

impl<'de> de::DeserializeSeed<'de> for EmptyBody {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EmptyBody {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an empty object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match map.next_key::<IgnoredAny>()? {
            None => Ok(()),
            Some(_) => Err(de::Error::custom("an unknown operator with conditions")),
        }
    }
}

/// The keys of one operator, each compiled into a condition entry as it is read.
struct BodySeed<'e> {
    op: Operator,
    vars: bool,
    errors: &'e mut Errors,
}

impl<'de> de::DeserializeSeed<'de> for BodySeed<'_> {
    type Value = Vec<ConditionEntry>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = Vec<ConditionEntry>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of condition keys")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // One or two keys are usual (two: a trust policy's `aud` and `sub`).
        let mut entries: Vec<ConditionEntry> = Vec::with_capacity(2);
        while let Some(Str(key)) = map.next_key()? {
            if entries.iter().any(|e| e.key() == key) {
                return Err(de::Error::custom("duplicate key"));
            }
            let (values, raw, single) = map.next_value_seed(ValuesSeed)?;
            let entry = condition_entry(self.op, &key, values, raw, single, self.vars, self.errors)
                .map_err(|_| de::Error::custom("condition key too long"))?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// The values of one condition key as the engine compares them (`true`, `10`), the values as
/// written when some is not a string, and whether a bare value (not an array) was written.
struct ValuesSeed;

type ValuesRead = (Items<String>, Option<Box<serde_json::Value>>, bool);

impl<'de> de::DeserializeSeed<'de> for ValuesSeed {
    type Value = ValuesRead;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValuesRead, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValuesSeed {
    fn bare(s: Scalar<'_>) -> ValuesRead {
        let raw = match &s {
            Scalar::Str(_) => None,
            _ => Some(Box::new(s.to_value())),
        };
        (smallvec::smallvec![s.text()], raw, true)
    }
}

impl<'de> Visitor<'de> for ValuesSeed {
    type Value = ValuesRead;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar or an array of scalars")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<ValuesRead, E> {
        Ok((smallvec::smallvec![v.to_owned()], None, true))
    }
    fn visit_str<E>(self, v: &str) -> Result<ValuesRead, E> {
        Ok((smallvec::smallvec![v.to_owned()], None, true))
    }
    fn visit_bool<E>(self, v: bool) -> Result<ValuesRead, E> {
        Ok(ValuesSeed::bare(Scalar::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<ValuesRead, E> {
        Ok(ValuesSeed::bare(Scalar::Num(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<ValuesRead, E> {
        Ok(ValuesSeed::bare(Scalar::Num(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ValuesRead, E> {
        ScalarVisitor.visit_f64(v).map(ValuesSeed::bare)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValuesRead, A::Error> {
        let mut values: Items<String> = SmallVec::new();
        // The values as written, from the first one that is not a string.
        let mut written: Option<Vec<serde_json::Value>> = None;
        while let Some(s) = seq.next_element::<Scalar<'de>>()? {
            if written.is_none() && !matches!(s, Scalar::Str(_)) {
                written = Some(
                    values
                        .iter()
                        .map(|v| serde_json::Value::String(v.clone()))
                        .collect(),
                );
            }
            if let Some(w) = &mut written {
                w.push(s.to_value());
            }
            values.push(s.text());
        }
        let raw = written.map(|w| Box::new(serde_json::Value::Array(w)));
        Ok((values, raw, false))
    }
}

fn dup<E: de::Error>() -> E {
    E::custom("duplicate or conflicting element")
}

impl<'de> Deserialize<'de> for RawStatement<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de::DeserializeSeed::deserialize(StatementSeed { vars: None }, d)
    }
}

/// Reads one statement; with the policy's version known (`vars`: it allows policy
/// variables), its `Condition` is built as it is read.
pub(crate) struct StatementSeed {
    pub(crate) vars: Option<bool>,
}

impl<'de> de::DeserializeSeed<'de> for StatementSeed {
    type Value = RawStatement<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V {
            vars: Option<bool>,
        }
        impl<'de> Visitor<'de> for V {
            type Value = RawStatement<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a statement object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawStatement<'de>, A::Error> {
                let mut st = RawStatement::default();
                while let Some(Str(k)) = map.next_key()? {
                    match &*k {
                        "Sid" => {
                            if st.sid.is_some() {
                                return Err(dup());
                            }
                            st.sid = Some(map.next_value::<Str<'de>>()?.0);
                        }
                        "Effect" => {
                            if st.effect.is_some() {
                                return Err(dup());
                            }
                            st.effect = Some(map.next_value::<Str<'de>>()?.0);
                        }
                        "Principal" | "NotPrincipal" => {
                            if st.principal.is_some() {
                                return Err(dup());
                            }
                            st.principal = Some((&*k == "NotPrincipal", map.next_value()?));
                        }
                        "Action" | "NotAction" => {
                            if st.action.is_some() || st.built_action.is_some() {
                                return Err(dup());
                            }
                            let negated = &*k == "NotAction";
                            if self.vars.is_some() {
                                st.built_action =
                                    Some(read_element(&mut map, negated, action_item)?);
                            } else {
                                st.action = Some((negated, map.next_value()?));
                            }
                        }
                        "Resource" | "NotResource" => {
                            if st.resource.is_some() || st.built_resource.is_some() {
                                return Err(dup());
                            }
                            let negated = &*k == "NotResource";
                            match self.vars {
                                Some(vars) => {
                                    st.built_resource =
                                        Some(read_element(&mut map, negated, |r, errors| {
                                            resource_item(r, vars, errors)
                                        })?);
                                }
                                None => st.resource = Some((negated, map.next_value()?)),
                            }
                        }
                        "Condition" => {
                            if st.condition.is_some() || st.built_condition.is_some() {
                                return Err(dup());
                            }
                            match self.vars {
                                Some(vars) => {
                                    st.built_condition =
                                        Some(map.next_value_seed(ConditionSeed { vars })?);
                                }
                                None => st.condition = Some(map.next_value()?),
                            }
                        }
                        _ => return Err(de::Error::custom("unknown statement element")),
                    }
                }
                Ok(st)
            }
        }
        d.deserialize_map(V { vars: self.vars })
    }
}

/// `Statement`: one statement object or a non-empty array of them. When the policy's
/// `Version` came first, each statement went to the reader's sink as it was read and
/// `items` is empty.
#[derive(Debug)]
pub(crate) struct RawStatements<'a> {
    pub(crate) items: Vec<RawStatement<'a>>,
    pub(crate) array: bool,
}

/// Receives each statement as it is read, with the policy's `Version` (read before it);
/// `false` rejects the document.
pub(crate) type Sink<'s, 'de> = dyn FnMut(Option<&str>, RawStatement<'de>) -> bool + 's;

/// Reads `Statement` handing each statement to the sink (no vector of raw statements).
struct StreamStatements<'v, 's, 'f, 'de> {
    version: Option<&'v str>,
    sink: &'f mut Sink<'s, 'de>,
}

impl<'de> de::DeserializeSeed<'de> for StreamStatements<'_, '_, '_, 'de> {
    type Value = RawStatements<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawStatements<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl StreamStatements<'_, '_, '_, '_> {
    /// The statement reader for the version read.
    fn seed(&self) -> StatementSeed {
        StatementSeed {
            vars: Some(self.version == Some("2012-10-17")),
        }
    }
}

impl<'de> Visitor<'de> for StreamStatements<'_, '_, '_, 'de> {
    type Value = RawStatements<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a statement or an array of statements")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawStatements<'de>, A::Error> {
        let st = de::DeserializeSeed::deserialize(
            self.seed(),
            de::value::MapAccessDeserializer::new(map),
        )?;
        if !(self.sink)(self.version, st) {
            return Err(de::Error::custom("statement rejected"));
        }
        Ok(RawStatements {
            items: Vec::new(),
            array: false,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStatements<'de>, A::Error> {
        let mut n = 0usize;
        while let Some(st) = seq.next_element_seed(self.seed())? {
            if !(self.sink)(self.version, st) {
                return Err(de::Error::custom("statement rejected"));
            }
            n += 1;
        }
        if n == 0 {
            return Err(de::Error::custom("empty Statement"));
        }
        Ok(RawStatements {
            items: Vec::new(),
            array: true,
        })
    }
}

impl<'de> Deserialize<'de> for RawStatements<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStatements<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a statement or an array of statements")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawStatements<'de>, A::Error> {
                let st = RawStatement::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawStatements {
                    items: vec![st],
                    array: false,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawStatements<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(64));
                while let Some(st) = seq.next_element()? {
                    items.push(st);
                }
                if items.is_empty() {
                    return Err(de::Error::custom("empty Statement"));
                }
                Ok(RawStatements { items, array: true })
            }
        }
        d.deserialize_any(V)
    }
}

/// A policy document.
#[derive(Debug, Default)]
pub(crate) struct RawPolicy<'a> {
    pub(crate) version: Option<Cow<'a, str>>,
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) statement: Option<RawStatements<'a>>,
}

/// Reads a policy object; statements after `Version` go to the sink.
struct PolicyVisitor<'s, 'f, 'de> {
    sink: &'f mut Sink<'s, 'de>,
}

impl<'de> Visitor<'de> for PolicyVisitor<'_, '_, 'de> {
    type Value = RawPolicy<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a policy object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPolicy<'de>, A::Error> {
        let mut p = RawPolicy::default();
        while let Some(Str(k)) = map.next_key()? {
            match &*k {
                "Version" if p.version.is_none() => {
                    p.version = Some(map.next_value::<Str<'de>>()?.0);
                }
                "Id" if p.id.is_none() => p.id = Some(map.next_value::<Str<'de>>()?.0),
                "Statement" if p.statement.is_none() => {
                    // With the version known, statements are handed over as they are read;
                    // otherwise (`Version` after `Statement`, or none yet) kept for later.
                    p.statement = Some(match p.version.as_deref() {
                        Some(v) => map.next_value_seed(StreamStatements {
                            version: Some(v),
                            sink: &mut *self.sink,
                        })?,
                        None => map.next_value()?,
                    });
                }
                _ => {
                    let _: IgnoredAny = map.next_value()?;
                    return Err(de::Error::custom("unknown or repeated policy element"));
                }
            }
        }
        Ok(p)
    }
}

/// Reads a policy document (trailing non-whitespace is an error). Statements that follow
/// `Version` go to `sink` as they are read (their `RawPolicy::statement` has no items);
/// others are returned in `RawPolicy::statement`.
pub(crate) fn read_policy<'de>(
    json: &'de str,
    sink: &mut Sink<'_, 'de>,
) -> Result<RawPolicy<'de>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let p = de::Deserializer::deserialize_map(&mut de, PolicyVisitor { sink })?;
    de.end()?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_shapes_rejected() {
        for bad in [
            r#"{"Statement":{"Effect":"Allow"},"Statement":{"Effect":"Allow"}}"#,
            r#"{"Statement":{"Effect":"Allow","Effect":"Deny"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"a:b","NotAction":"a:c"}}"#,
            r#"{"Statement":{"Principal":{"AWS":"a","AWS":"b"}}}"#,
            r#"{"Statement":{"Condition":{"StringEquals":{"a:b":"1","a:b":"2"}}}}"#,
            r#"{"Statement":{"Condition":{"Bool":{},"Bool":{}}}}"#,
            r#"{"Statement":{"Action":[["a:b"]]}}"#,
            r#"{"Statement":{"Condition":{"Bool":{"a:b":[["x"]]}}}}"#,
            r#"{"Statement":{"Condition":{"Bool":{"a:b":null}}}}"#,
            r#"{"Statement":{"Principal":"x"}}"#,
            r#"{"Statement":[]}"#,
            r#"{"Statement":{}} x"#,
            r#"{"Statement":{"Extra":1}}"#,
        ] {
            assert!(read_policy(bad, &mut |_, _| true).is_err(), "{bad}");
            assert!(
                read_policy(
                    &bad.replace("{\"Statement\"", "{\"Version\":\"1\",\"Statement\""),
                    &mut |_, _| true
                )
                .is_err(),
                "{bad} streamed"
            );
        }
        let mut streamed = Vec::new();
        let ok = read_policy(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"a\u0042","Effect":"Allow","Action":["s3:x"],"Condition":{"NumericLessThan":{"s3:max-keys":[10,1.5,true]}}}]}"#,
            &mut |v, st| {
                assert_eq!(v, Some("2012-10-17"));
                streamed.push(st);
                true
            },
        )
        .unwrap();
        assert!(ok.statement.as_ref().unwrap().items.is_empty());
        let st = &streamed[0];
        assert_eq!(st.sid.as_deref(), Some("aB"));
        let (blocks, errors) = st.built_condition.as_ref().unwrap();
        assert!(errors.is_empty());
        assert_eq!(blocks[0].entries[0].values(), ["10", "1.5", "true"]);
        // Version after Statement: the statements come back as read.
        let ok = read_policy(
            r#"{"Statement":[{"Condition":{"NumericLessThan":{"s3:max-keys":[10,1.5,true]}}}],"Version":"2012-10-17"}"#,
            &mut |_, _| panic!("no version before the statements"),
        )
        .unwrap();
        let cond = ok.statement.as_ref().unwrap().items[0]
            .condition
            .as_ref()
            .unwrap();
        let vals: Vec<String> = cond.0[0].1.0[0].1.items.iter().map(Scalar::text).collect();
        assert_eq!(vals, ["10", "1.5", "true"]);
    }
}
