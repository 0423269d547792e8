//! serde over a parsed JSONC tree, so schema errors point at the value that is wrong.
//!
//! Each error is located at the first node that reports it (the value with the wrong
//! type, the unknown key, the object missing a key) and remembers the key it sat under.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::jsonc::{Entry, Node, Number, Value};

/// A schema error, before it is turned into a line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaError {
    /// Byte offset of the offending node.
    pub at: Option<usize>,
    /// The keys from the top of the file down to the offending value.
    pub path: Vec<String>,
    /// What is wrong.
    pub problem: Problem,
}

/// The schema rule a value broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The value has the wrong type.
    WrongType {
        /// What belongs here, in words (`a string`).
        expected: String,
        /// What was found (`integer 5`).
        found: String,
    },
    /// A key the schema does not have.
    UnknownKey {
        /// The key.
        key: String,
        /// The keys allowed here.
        known: Vec<&'static str>,
    },
    /// A string that is not one of the allowed words.
    UnknownValue {
        /// The value.
        value: String,
        /// The words allowed.
        allowed: Vec<&'static str>,
    },
    /// A required key is missing.
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// The value has the right type but is not valid (the message says why).
    Invalid {
        /// Why.
        message: String,
    },
}

impl SchemaError {
    fn new(problem: Problem) -> SchemaError {
        SchemaError {
            at: None,
            path: Vec::new(),
            problem,
        }
    }

    fn located(mut self, at: usize) -> SchemaError {
        self.at.get_or_insert(at);
        self
    }

    fn under(mut self, key: &str) -> SchemaError {
        self.path.insert(0, key.to_string());
        self
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} at {:?}: {:?}", self.path, self.at, self.problem)
    }
}

impl std::error::Error for SchemaError {}

/// Plain words for serde's type names.
fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "an array".to_string(),
        "a map" => "an object".to_string(),
        "a boolean" | "a string" => expected.to_string(),
        s if s.starts_with("struct ") => "an object".to_string(),
        s if s.starts_with("enum ") => "a string".to_string(),
        s if s.starts_with("a string ") => "a string".to_string(),
        s => s.to_string(),
    }
}

fn describe_found(found: de::Unexpected<'_>) -> String {
    match found {
        de::Unexpected::Unsigned(n) => format!("the number {n}"),
        de::Unexpected::Signed(n) => format!("the number {n}"),
        de::Unexpected::Float(n) => format!("the number {n}"),
        de::Unexpected::Str(s) => format!("the string \"{s}\""),
        de::Unexpected::Bool(b) => format!("{b}"),
        de::Unexpected::Unit => "null".to_string(),
        de::Unexpected::Seq => "an array".to_string(),
        de::Unexpected::Map => "an object".to_string(),
        other => other.to_string(),
    }
}

impl de::Error for SchemaError {
    fn custom<T: fmt::Display>(message: T) -> SchemaError {
        SchemaError::new(Problem::Invalid {
            message: message.to_string(),
        })
    }

    fn invalid_type(found: de::Unexpected<'_>, expected: &dyn de::Expected) -> SchemaError {
        SchemaError::new(Problem::WrongType {
            expected: describe_expected(&expected.to_string()),
            found: describe_found(found),
        })
    }

    fn invalid_value(found: de::Unexpected<'_>, expected: &dyn de::Expected) -> SchemaError {
        SchemaError::invalid_type(found, expected)
    }

    fn unknown_field(key: &str, known: &'static [&'static str]) -> SchemaError {
        SchemaError::new(Problem::UnknownKey {
            key: key.to_string(),
            known: known.to_vec(),
        })
    }

    fn unknown_variant(value: &str, allowed: &'static [&'static str]) -> SchemaError {
        SchemaError::new(Problem::UnknownValue {
            value: value.to_string(),
            allowed: allowed.to_vec(),
        })
    }

    fn missing_field(key: &'static str) -> SchemaError {
        SchemaError::new(Problem::MissingKey { key })
    }
}

/// Deserializes a value of type `T` from a tree.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, SchemaError> {
    T::deserialize(NodeDeserializer(node))
}

struct NodeDeserializer<'de>(&'de Node);

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = SchemaError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SchemaError> {
        let at = self.0.at;
        let result = match &self.0.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(Number::Unsigned(n)) => visitor.visit_u64(*n),
            Value::Number(Number::Signed(n)) => visitor.visit_i64(*n),
            Value::Number(Number::Float(n)) => visitor.visit_f64(*n),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| e.located(at))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SchemaError> {
        match self.0.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SchemaError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SchemaError> {
        let at = self.0.at;
        let result = match &self.0.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        };
        result.map_err(|e| e.located(at))
    }

    /// Only an object is a struct (serde would also take an array of the fields).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SchemaError> {
        match &self.0.value {
            Value::Array(_) => Err(<SchemaError as de::Error>::invalid_type(
                de::Unexpected::Seq,
                &visitor,
            )
            .located(self.0.at)),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

struct Items<'de>(std::slice::Iter<'de, Node>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = SchemaError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, SchemaError> {
        self.0
            .next()
            .map(|node| {
                // A value's own check (after it parsed) points at the value, not the array.
                seed.deserialize(NodeDeserializer(node))
                    .map_err(|e| e.located(node.at))
            })
            .transpose()
    }
}

struct Entries<'de> {
    entries: std::slice::Iter<'de, Entry>,
    value: Option<&'de Entry>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = SchemaError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SchemaError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let key: de::value::BorrowedStrDeserializer<'de, SchemaError> =
            de::value::BorrowedStrDeserializer::new(&entry.key);
        seed.deserialize(key)
            .map(Some)
            .map_err(|e| e.located(entry.key_at))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, SchemaError> {
        match self.value.take() {
            Some(entry) => seed
                .deserialize(NodeDeserializer(&entry.value))
                .map_err(|e| e.under(&entry.key)),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }
}
