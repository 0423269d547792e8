//! Building blocks for the decoders' typed fast paths.
//!
//! The decoders parse their frequent events straight into small borrowing structs instead
//! of a `serde_json::Value` tree (no map per object, no `String` per key or value), and
//! fall back to the `Value` path whenever that typed parse fails. For both paths to give
//! the same events, a typed parse must fail on every shape it would read differently; the
//! two wrappers here close the gaps serde's derive leaves open.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A JSON string, borrowed from the input unless it has escapes.
///
/// serde borrows a `Cow<str>` only when the field's type is exactly that: an
/// `Option<Cow<str>>` field always allocates, an `Option<Text>` field borrows.
#[derive(Debug, Deserialize)]
pub(crate) struct Text<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The string of an optional [`Text`] field.
pub(crate) fn opt_str<'s>(text: &'s Option<Text<'_>>) -> Option<&'s str> {
    text.as_ref().map(Text::as_str)
}

/// A derived struct that must come from a JSON object.
///
/// A derived struct also accepts an array of its fields in order (`[0, "x"]`), which the
/// `Value` path reads as "not an object"; wrapping it in `Object` makes that a parse error,
/// so such shapes take the `Value` path.
#[derive(Debug)]
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

/// For `#[serde(default, deserialize_with = "present")] field: bool`: whether the key is
/// there at all, `null` included (an `Option` field cannot tell `null` from absent).
pub(crate) fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// An empty JSON object; anything else fails to parse.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmptyObject {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Point<'a> {
        #[serde(default)]
        x: Option<u64>,
        #[serde(default, borrow)]
        label: Option<Text<'a>>,
    }

    #[test]
    fn text_borrows_unless_escaped() {
        let plain: Point<'_> = serde_json::from_str(r#"{"label":"plain"}"#).unwrap();
        assert!(matches!(plain.label, Some(Text(Cow::Borrowed("plain")))));
        let escaped: Point<'_> = serde_json::from_str(r#"{"label":"a\nb"}"#).unwrap();
        assert_eq!(escaped.label.unwrap().as_str(), "a\nb");
    }

    #[test]
    fn object_rejects_the_array_form_a_derived_struct_accepts() {
        let derived: Point<'_> = serde_json::from_str(r#"[1, "x"]"#).unwrap();
        assert_eq!(derived.x, Some(1));
        assert!(serde_json::from_str::<Object<Point<'_>>>(r#"[1, "x"]"#).is_err());
        let object: Object<Point<'_>> = serde_json::from_str(r#"{"x":1,"y":[]}"#).unwrap();
        assert_eq!(object.0.x, Some(1));
    }

    #[derive(Debug, Deserialize)]
    struct Marked {
        #[serde(default, deserialize_with = "present")]
        mark: bool,
    }

    #[test]
    fn present_tells_null_from_absent() {
        let parse = |json| serde_json::from_str::<Marked>(json).unwrap().mark;
        assert!(parse(r#"{"mark":null}"#));
        assert!(parse(r#"{"mark":[1]}"#));
        assert!(!parse(r#"{"other":1}"#));
    }

    #[test]
    fn empty_object_is_only_the_empty_object() {
        assert!(serde_json::from_str::<Object<EmptyObject>>("{}").is_ok());
        assert!(serde_json::from_str::<Object<EmptyObject>>(r#"{"a":1}"#).is_err());
        assert!(serde_json::from_str::<Object<EmptyObject>>("[]").is_err());
    }
}
