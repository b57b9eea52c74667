//! The webhook's JSON as visitors read it: only the fields syncwatch uses,
//! strings borrowed from the body when they need no unescaping, and the
//! shape of whatever is not what was expected (for the error messages).
//! A repeated key keeps its last value and unknown keys are skipped, as a
//! JSON object read into a map would.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A value read as text: strings, numbers as written, booleans; anything
/// else (null, objects, arrays) counts as absent.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Absent,
}

impl<'a> Value<'a> {
    pub fn into_cow(self) -> Option<Cow<'a, str>> {
        match self {
            Value::Text(text) => Some(text),
            Value::Bool(b) => Some(Cow::Owned(b.to_string())),
            Value::Absent => None,
        }
    }

    pub fn into_text(self) -> Option<String> {
        self.into_cow().map(Cow::into_owned)
    }

    /// `sandbox`: a boolean, or its spelling as a string.
    pub fn flag(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Text(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::Text(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

/// A number as serde_json writes it (`1`, `-1`, `1.5`, `1e20`).
fn number(n: impl Into<serde_json::Number>) -> String {
    n.into().to_string()
}

fn float(v: f64) -> String {
    serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value<'de>, E> {
                Ok(Value::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value<'de>, E> {
                Ok(Value::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Value<'de>, E> {
                Ok(Value::Text(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value<'de>, E> {
                Ok(Value::Text(Cow::Owned(number(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value<'de>, E> {
                Ok(Value::Text(Cow::Owned(number(v))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value<'de>, E> {
                Ok(Value::Text(Cow::Owned(float(v))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value<'de>, E> {
                Ok(Value::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Value<'de>, E> {
                Ok(Value::Absent)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value<'de>, A::Error> {
                IgnoredAny::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Value::Absent)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value<'de>, A::Error> {
                IgnoredAny::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Value::Absent)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An object read as `T`, or the kind of value found instead.
#[derive(Debug)]
pub enum Shape<T> {
    Object(T),
    Other(&'static str),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shape<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Shape<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Shape::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shape<T>, A::Error> {
                IgnoredAny::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Shape::Other("an array"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a string"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a number"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a number"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape<T>, E> {
                Ok(Shape::Other("a boolean"))
            }
            fn visit_unit<E>(self) -> Result<Shape<T>, E> {
                Ok(Shape::Other("null"))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// An object key, borrowed when it needs no unescaping.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Implements `Deserialize` for an object with the given fields, each read
/// as its type; other keys skipped; a repeated key's last value kept.
macro_rules! object {
    ($name:ident { $($json:literal => $field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Debug, Default)]
        pub struct $name<'a> {
            $(pub $field: Option<$ty>,)*
            _borrow: PhantomData<&'a ()>,
        }

        impl<'de> Deserialize<'de> for $name<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$name<'de>, A::Error> {
                        let mut out = $name::default();
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            match key.as_ref() {
                                $($json => out.$field = Some(map.next_value()?),)*
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    };
}

object!(Envelope {
    "data" => data: Shape<Data<'a>>,
    "requestId" => request_id: Value<'a>,
});

object!(Wire {
    "event" => event: Value<'a>,
    "connectionId" => connection_id: Value<'a>,
    "connectionUuid" => connection_uuid: Value<'a>,
    "businessName" => business_name: Value<'a>,
    "businessUuid" => business_uuid: Value<'a>,
    "serviceName" => service_name: Value<'a>,
    "dataSyncType" => data_sync_type: Value<'a>,
    "requestType" => request_type: Value<'a>,
    "sandbox" => sandbox: Value<'a>,
    "serviceAccountRef" => account: Shape<AccountRef<'a>>,
    "requests" => requests: Requests<'a>,
    "oldStatus" => old_status: Value<'a>,
    "newStatus" => new_status: Value<'a>,
    "disconnectReason" => disconnect_reason: Value<'a>,
    "message" => message: Value<'a>,
    "effectiveOn" => effective_on: Value<'a>,
});

object!(AccountRef {
    "id" => id: Value<'a>,
    "entityRef" => entity: Shape<EntityRef<'a>>,
});

object!(EntityRef {
    "id" => id: Value<'a>,
});

object!(Entry {
    "request" => request: Value<'a>,
    "reportFrequency" => report_frequency: Value<'a>,
    "status" => status: Value<'a>,
    "startDate" => start_date: Value<'a>,
    "endDate" => end_date: Value<'a>,
});

/// `data`, with `serviceAccountRef` read down to its two ids.
pub struct Data<'a> {
    pub wire: Wire<'a>,
    pub account_id: Option<String>,
    pub entity_id: Option<String>,
}

impl<'de> Deserialize<'de> for Data<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut wire = Wire::deserialize(deserializer)?;
        let account = match wire.account.take() {
            Some(Shape::Object(account)) => Some(account),
            _ => None,
        };
        let account_id = account.as_ref().and_then(|a| a.id.clone()).and_then(Value::into_text);
        let entity_id = account
            .and_then(|a| a.entity)
            .and_then(|e| match e {
                Shape::Object(entity) => entity.id,
                Shape::Other(_) => None,
            })
            .and_then(Value::into_text);
        Ok(Data {
            wire,
            account_id,
            entity_id,
        })
    }
}

impl<'a> std::ops::Deref for Data<'a> {
    type Target = Wire<'a>;
    fn deref(&self) -> &Wire<'a> {
        &self.wire
    }
}

impl std::fmt::Debug for Data<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.wire.fmt(f)
    }
}

/// `requests`: the full payload's array, the simple payload's object, or
/// the kind of whatever else was sent.
#[derive(Debug)]
pub enum Requests<'a> {
    Full(Vec<Shape<Entry<'a>>>),
    Simple(BTreeMap<Cow<'a, str>, Shape<Counts<'a>>>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Requests<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Requests<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array or an object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Requests<'de>, A::Error> {
                let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(entry) = seq.next_element()? {
                    entries.push(entry);
                }
                Ok(Requests::Full(entries))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Requests<'de>, A::Error> {
                let mut counts = BTreeMap::new();
                while let Some(Key(data_type)) = map.next_key::<Key<'de>>()? {
                    counts.insert(data_type, map.next_value()?);
                }
                Ok(Requests::Simple(counts))
            }
            fn visit_str<E>(self, _: &str) -> Result<Requests<'de>, E> {
                Ok(Requests::Other("a string"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Requests<'de>, E> {
                Ok(Requests::Other("a number"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Requests<'de>, E> {
                Ok(Requests::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Requests<'de>, E> {
                Ok(Requests::Other("a number"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Requests<'de>, E> {
                Ok(Requests::Other("a boolean"))
            }
            fn visit_unit<E>(self) -> Result<Requests<'de>, E> {
                Ok(Requests::Other("null"))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A simple payload's counts per status: a whole number (null counts as
/// 0), or the JSON text of what was sent instead.
#[derive(Debug)]
pub struct Counts<'a>(pub BTreeMap<Cow<'a, str>, Result<u64, String>>);

impl<'de> Deserialize<'de> for Counts<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Counts<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counts<'de>, A::Error> {
                let mut counts = BTreeMap::new();
                while let Some(Key(status)) = map.next_key::<Key<'de>>()? {
                    let Count(count) = map.next_value()?;
                    counts.insert(status, count);
                }
                Ok(Counts(counts))
            }
        }
        deserializer.deserialize_map(V)
    }
}

struct Count(Result<u64, String>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Count, E> {
                Ok(Count(Ok(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Count, E> {
                Ok(Count(Err(number(v))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Count, E> {
                Ok(Count(Err(float(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Count, E> {
                Ok(Count(Err(serde_json::Value::from(v).to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Count, E> {
                Ok(Count(Err(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Count, E> {
                Ok(Count(Ok(0)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Count, A::Error> {
                let value = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Count(Err(value.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Count, A::Error> {
                let value =
                    serde_json::Value::deserialize(MapAccessDeserializer::new(map)).map_err(de::Error::custom)?;
                Ok(Count(Err(value.to_string())))
            }
        }
        deserializer.deserialize_any(V)
    }
}
