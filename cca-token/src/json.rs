//! JSON read strictly (feature `std`): `serde_json`'s own [`Value`] keeps the last of a key
//! given twice in an object, silently; configuration and policy files here refuse it, with
//! the key's path.

use core::cell::RefCell;
use core::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why strict JSON could not be read.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum JsonError {
    /// Not JSON: `serde_json`'s message, with line and column.
    Syntax(String),
    /// A key given twice in one object, at this path (`$.a.b`).
    DuplicateKey {
        /// The path of the second occurrence.
        path: String,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(e) => f.write_str(e),
            Self::DuplicateKey { path } => write!(f, "{path}: a key appears twice"),
        }
    }
}

impl std::error::Error for JsonError {}

/// Reads `text` as one JSON value, refusing a key given twice in any object.
///
/// # Errors
///
/// [`JsonError`].
pub fn from_str(text: &str) -> Result<Value, JsonError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Strict {
        path: "$".to_owned(),
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, duplicate.into_inner()) {
        (_, Some(path)) => Err(JsonError::DuplicateKey { path }),
        (Err(e), None) => Err(JsonError::Syntax(e.to_string())),
        (Ok(v), None) => Ok(v),
    }
}

/// A JSON value inside a larger document read with serde, refusing a key given twice in
/// any of its objects (the error names the key; serde's position, or a path-tracking
/// deserializer around it, says where).
#[derive(Clone, Debug, PartialEq)]
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let duplicate = RefCell::new(None);
        Strict {
            path: "$".to_owned(),
            duplicate: &duplicate,
        }
        .deserialize(d)
        .map(StrictValue)
    }
}

/// `path.key`, or `path["key"]` for a key that is not a plain identifier.
pub(crate) fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

/// Deserializes any JSON into a [`Value`], failing on the first key that appears twice in
/// an object and recording its path in `duplicate`.
struct Strict<'c> {
    path: String,
    duplicate: &'c RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = Strict {
                path: format!("{}[{}]", self.path, items.len()),
                duplicate: self.duplicate,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = child(&self.path, &key);
            if obj.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom(format_args!("key `{key}` appears twice")));
            }
            let seed = Strict {
                path,
                duplicate: self.duplicate,
            };
            let v = map.next_value_seed(seed)?;
            obj.insert(key, v);
        }
        Ok(Value::Object(obj))
    }
}
