//! Reading a tool's JSON arguments, with errors that name the field and what it must be.
//!
//! Lenient where models commonly slip and the meaning is unambiguous: numbers written as
//! strings (`"10"`), whole floats (`10.0`), booleans written as strings (`"true"`).

use std::fmt;

use serde_json::Value;

/// A tool argument that is missing or not what the tool expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// The arguments are not a JSON object.
    NotAnObject,
    /// A required argument is absent (or null).
    Missing {
        /// The argument's name.
        field: &'static str,
        /// What it must be ("a string").
        expected: &'static str,
    },
    /// An argument has the wrong type or an impossible value.
    Invalid {
        /// The argument's name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What was given, as JSON, shortened.
        got: String,
    },
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::NotAnObject => write!(f, "the arguments must be a JSON object"),
            ArgError::Missing { field, expected } => {
                write!(f, "missing required argument `{field}` ({expected})")
            }
            ArgError::Invalid {
                field,
                expected,
                got,
            } => write!(f, "argument `{field}` must be {expected}, got {got}"),
        }
    }
}

impl std::error::Error for ArgError {}

fn field<'a>(input: &'a Value, name: &str) -> Result<Option<&'a Value>, ArgError> {
    let object = input.as_object().ok_or(ArgError::NotAnObject)?;
    Ok(object.get(name).filter(|v| !v.is_null()))
}

fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A required string argument.
pub fn required_str<'a>(input: &'a Value, name: &'static str) -> Result<&'a str, ArgError> {
    match field(input, name)? {
        None => Err(ArgError::Missing {
            field: name,
            expected: "a string",
        }),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ArgError::Invalid {
            field: name,
            expected: "a string",
            got: shown(other),
        }),
    }
}

/// An optional boolean argument.
pub fn optional_bool(input: &Value, name: &'static str) -> Result<Option<bool>, ArgError> {
    match field(input, name)? {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(other) => Err(ArgError::Invalid {
            field: name,
            expected: "true or false",
            got: shown(other),
        }),
    }
}

/// An optional integer argument of at least `min`.
pub fn optional_uint(
    input: &Value,
    name: &'static str,
    min: u64,
    expected: &'static str,
) -> Result<Option<u64>, ArgError> {
    let Some(value) = field(input, name)? else {
        return Ok(None);
    };
    let number = match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match number {
        Some(n) if n >= min => Ok(Some(n)),
        _ => Err(ArgError::Invalid {
            field: name,
            expected,
            got: shown(value),
        }),
    }
}

/// A required array argument; an array sent as a JSON string (`"[…]"`) is accepted.
pub fn required_array(input: &Value, name: &'static str) -> Result<Vec<Value>, ArgError> {
    match field(input, name)? {
        None => Err(ArgError::Missing {
            field: name,
            expected: "an array",
        }),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => Ok(items),
            _ => Err(ArgError::Invalid {
                field: name,
                expected: "an array",
                got: shown(&Value::String(s.clone())),
            }),
        },
        Some(other) => Err(ArgError::Invalid {
            field: name,
            expected: "an array",
            got: shown(other),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_string_names_the_field() {
        let err = required_str(&json!({}), "path").unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing required argument `path` (a string)"
        );
        let err = required_str(&json!({"path": null}), "path").unwrap_err();
        assert!(matches!(err, ArgError::Missing { field: "path", .. }));
    }

    #[test]
    fn wrong_type_shows_what_was_given() {
        let err = required_str(&json!({"path": 7}), "path").unwrap_err();
        assert_eq!(err.to_string(), "argument `path` must be a string, got 7");
        assert_eq!(
            required_str(&json!(["path"]), "path").unwrap_err(),
            ArgError::NotAnObject
        );
    }

    #[test]
    fn numbers_as_strings_and_whole_floats_are_accepted() {
        let expected = "a positive integer";
        assert_eq!(
            optional_uint(&json!({"n": "12"}), "n", 1, expected),
            Ok(Some(12))
        );
        assert_eq!(
            optional_uint(&json!({"n": 3.0}), "n", 1, expected),
            Ok(Some(3))
        );
        assert_eq!(optional_uint(&json!({}), "n", 1, expected), Ok(None));
        let err = optional_uint(&json!({"n": -1}), "n", 1, expected).unwrap_err();
        assert_eq!(
            err.to_string(),
            "argument `n` must be a positive integer, got -1"
        );
        assert!(optional_uint(&json!({"n": 0}), "n", 1, expected).is_err());
        assert!(optional_uint(&json!({"n": 1.5}), "n", 1, expected).is_err());
    }

    #[test]
    fn booleans_as_strings_are_accepted() {
        assert_eq!(optional_bool(&json!({"b": "true"}), "b"), Ok(Some(true)));
        assert_eq!(optional_bool(&json!({"b": false}), "b"), Ok(Some(false)));
        assert!(optional_bool(&json!({"b": "yes"}), "b").is_err());
    }

    #[test]
    fn arrays_may_arrive_as_json_text() {
        let want = vec![json!({"a": 1})];
        assert_eq!(
            required_array(&json!({"e": [{"a": 1}]}), "e"),
            Ok(want.clone())
        );
        assert_eq!(required_array(&json!({"e": "[{\"a\": 1}]"}), "e"), Ok(want));
        let err = required_array(&json!({"e": "{}"}), "e").unwrap_err();
        assert_eq!(err.to_string(), "argument `e` must be an array, got \"{}\"");
        assert!(matches!(
            required_array(&json!({}), "e"),
            Err(ArgError::Missing { field: "e", .. })
        ));
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "x".repeat(500);
        let err = required_str(&json!({"p": [long]}), "p").unwrap_err();
        assert!(err.to_string().len() < 150, "{err}");
    }
}
