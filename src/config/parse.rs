//! From name/value strings to checked values, in one pass driven by the property table: names
//! (strict or lenient), types, ranges and allowed values, unsupported settings, defaults.
//! Also the reader of Java `.properties` text.

use super::properties::{self, DefaultValue, Property, Range, Status, Type, PROPERTIES};
use crate::error::Error;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A parsed property value (or its default).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Java's `null`: not set and no default.
    Unset,
    Bool(bool),
    Num(i64),
    Double(f64),
    /// Strings, class names, secrets and enum values (in the table's spelling).
    Text(String),
    List(Vec<String>),
}

/// What `Debug` and [`ProducerConfig::values`](super::ProducerConfig::values) show instead of a
/// secret.
pub(crate) const REDACTED: &str = "[hidden]";

/// Whether a property's value must not be shown: the table's secrets, and every unknown name
/// (a shared `producer.properties` may carry other tools' credentials under names we cannot
/// judge, such as `basic.auth.user.info`).
pub(crate) fn is_secret(name: &str) -> bool {
    properties::lookup(name).is_none_or(|p| p.is_secret())
}

pub(crate) fn invalid(property: &str, value: &str, why: impl fmt::Display) -> Error {
    Error::config(property, format!("invalid value {value:?}: {why}"))
}

/// Every property's value, in table order: what was set (checked) or the default, plus which
/// were set explicitly. The cross-property rules read and adjust it; the typed
/// [`ProducerConfig`](super::ProducerConfig) and its `values()` are taken from it.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    values: Vec<Value>,
    explicit: Vec<bool>,
}

impl Resolved {
    /// Checks and parses every given property. Unknown names are an error naming the closest
    /// known one, unless `allow_unknown`: then each is logged once, as Java does, and skipped.
    pub fn parse(raw: &BTreeMap<String, String>, allow_unknown: bool) -> Result<Self, Error> {
        let mut values: Vec<Value> = PROPERTIES.iter().map(default_value).collect();
        let mut explicit = vec![false; PROPERTIES.len()];
        for (name, text) in raw {
            let Some(i) = properties::index_of(name) else {
                if allow_unknown {
                    log::warn!("The configuration '{name}' was supplied but isn't a known config.");
                    continue;
                }
                return Err(unknown(name));
            };
            let p = &PROPERTIES[i];
            let value = parse_value(p, text.trim())?;
            if let Status::Unsupported { reason } = p.status {
                if value != values[i] {
                    return Err(Error::config(p.name, reason));
                }
            }
            values[i] = value;
            explicit[i] = true;
        }
        Ok(Resolved { values, explicit })
    }

    fn index(name: &str) -> usize {
        // Only the crate's own code asks, with names from the table; a typo is a bug that every
        // test building a configuration would hit.
        properties::index_of(name).unwrap_or_else(|| panic!("{name} is not in the table"))
    }
    /// The value of a property (set or default).
    pub fn get(&self, name: &str) -> &Value {
        &self.values[Self::index(name)]
    }
    /// Replaces a value (a rule's adjustment), keeping whether it was set explicitly.
    pub fn set(&mut self, name: &str, value: Value) {
        self.values[Self::index(name)] = value;
    }
    /// Whether the user set the property (to any value, the default included), as Java's
    /// `originals().containsKey`.
    pub fn explicit(&self, name: &str) -> bool {
        self.explicit[Self::index(name)]
    }
    pub fn bool(&self, name: &str) -> bool {
        match self.get(name) {
            Value::Bool(b) => *b,
            other => panic!("{name} is not a bool: {other:?}"),
        }
    }
    pub fn num(&self, name: &str) -> i64 {
        match self.get(name) {
            Value::Num(n) => *n,
            other => panic!("{name} is not a number: {other:?}"),
        }
    }
    /// A millisecond property as a duration (negative values, where allowed, read as zero).
    pub fn ms(&self, name: &str) -> Duration {
        Duration::from_millis(self.num(name).max(0) as u64)
    }
    pub fn set_ms(&mut self, name: &str, d: Duration) {
        let n = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.set(name, Value::Num(n));
    }
    /// A size in bytes (the table's ranges keep it non-negative).
    pub fn size(&self, name: &str) -> Result<usize, Error> {
        let n = self.num(name);
        usize::try_from(n).map_err(|_| invalid(name, &n.to_string(), "too large for this platform"))
    }
    /// A text value; `None` when unset.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Value::Text(t) => Some(t),
            Value::Unset => None,
            other => panic!("{name} is not text: {other:?}"),
        }
    }
    /// A text value, unless unset or blank (Java's defaults for many `ssl.*` are empty).
    #[cfg(feature = "tls")]
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.text(name).filter(|t| !t.is_empty())
    }
    pub fn list(&self, name: &str) -> &[String] {
        match self.get(name) {
            Value::List(l) => l,
            Value::Unset => &[],
            other => panic!("{name} is not a list: {other:?}"),
        }
    }

    /// The `Ignored` properties set to something other than their default.
    pub fn ignored_but_set(&self) -> Vec<&'static Property> {
        PROPERTIES
            .iter()
            .zip(&self.values)
            .filter(|(p, v)| matches!(p.status, Status::Ignored { .. }) && **v != default_value(p))
            .map(|(p, _)| p)
            .collect()
    }

    /// Each property with its value as text (secrets hidden), for `values()`.
    pub fn shown(&self, filter: impl Fn(&Property) -> bool) -> Vec<(&'static str, String)> {
        PROPERTIES
            .iter()
            .zip(&self.values)
            .filter(|(p, _)| filter(p))
            .map(|(p, v)| (p.name, show(p, v)))
            .collect()
    }
}

/// The one warning line for `Ignored` properties that were set, if any.
pub(crate) fn ignored_warning(set: &[&Property]) -> Option<String> {
    if set.is_empty() {
        return None;
    }
    let list: Vec<String> = set
        .iter()
        .map(|p| match p.status {
            Status::Ignored { reason } => format!("{} ({reason})", p.name),
            _ => p.name.to_string(),
        })
        .collect();
    Some(format!(
        "these properties are accepted but have no effect in this client: {}",
        list.join("; ")
    ))
}

fn unknown(name: &str) -> Error {
    let reason = match properties::closest(name) {
        Some(near) => format!("unknown property `{name}`; did you mean `{near}`?"),
        None => format!("unknown property `{name}`"),
    };
    Error::config(name, reason)
}

fn show(p: &Property, v: &Value) -> String {
    match v {
        Value::Unset => "null".to_string(),
        _ if p.is_secret() => REDACTED.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Num(n) => n.to_string(),
        Value::Double(x) => x.to_string(),
        Value::Text(t) => t.clone(),
        Value::List(l) => l.join(","),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect()
}

/// A property's default as a value.
fn default_value(p: &Property) -> Value {
    match p.default {
        DefaultValue::None => Value::Unset,
        DefaultValue::Bool(b) => Value::Bool(b),
        DefaultValue::Num(n) => Value::Num(n),
        DefaultValue::Double(x) => Value::Double(x),
        DefaultValue::Text(t) if p.ty == Type::List => Value::List(split_list(t)),
        DefaultValue::Text(t) => Value::Text(t.to_string()),
    }
}

/// Parses one (trimmed) value by the property's type and checks its range.
fn parse_value(p: &Property, v: &str) -> Result<Value, Error> {
    let name = p.name;
    match p.ty {
        Type::Bool if v.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Type::Bool if v.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        Type::Bool => Err(invalid(name, v, "expected true or false")),
        Type::Int | Type::Long | Type::Ms => {
            let n: i64 = v
                .parse()
                .map_err(|_| invalid(name, v, "expected an integer"))?;
            check_integer(p, v, n)?;
            Ok(Value::Num(n))
        }
        Type::Double => {
            let x: f64 = v
                .parse()
                .map_err(|_| invalid(name, v, "expected a number"))?;
            if let Range::Fraction(min, max) = p.range {
                if !(min..=max).contains(&x) {
                    return Err(invalid(name, v, format!("must be from {min} to {max}")));
                }
            }
            Ok(Value::Double(x))
        }
        Type::String | Type::Class | Type::Password => Ok(Value::Text(v.to_string())),
        Type::List => Ok(Value::List(split_list(v))),
        Type::Enum {
            values,
            ignore_case,
        } => values
            .iter()
            .find(|a| {
                if ignore_case {
                    a.eq_ignore_ascii_case(v)
                } else {
                    **a == v
                }
            })
            .map(|a| Value::Text(a.to_string()))
            .ok_or_else(|| invalid(name, v, format!("expected one of {}", values.join(", ")))),
    }
}

fn check_integer(p: &Property, v: &str, n: i64) -> Result<(), Error> {
    let (min, max) = match p.range {
        Range::Between(min, max) => (min, max),
        Range::SentinelOr(sentinel, min, max) => {
            if n == sentinel {
                return Ok(());
            }
            if n < sentinel {
                return Err(invalid(p.name, v, format!("must be at least {sentinel}")));
            }
            if n < min {
                return Err(invalid(
                    p.name,
                    v,
                    format!("must be {sentinel} (default) or {min} to {max}"),
                ));
            }
            (min, max)
        }
        _ if p.ty == Type::Int => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    };
    if n < min {
        return Err(invalid(p.name, v, format!("must be at least {min}")));
    }
    if n > max {
        return Err(invalid(p.name, v, format!("must be at most {max}")));
    }
    Ok(())
}

/// Splits a `.properties` entry at the first `=`, `:` or blank.
fn split_property(entry: &str) -> (String, String) {
    let split = entry
        .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
        .unwrap_or(entry.len());
    let (name, rest) = entry.split_at(split);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
    (name.to_string(), rest.trim_end().to_string())
}

/// Java `.properties` text to name/value pairs (see
/// [`ProducerConfig::parse_properties`](super::ProducerConfig::parse_properties)).
pub(crate) fn properties_text(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        // an odd number of trailing backslashes continues the line
        let trailing = line.len() - line.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        out.push(split_property(entry.trim()));
    }
    if !logical.trim().is_empty() {
        out.push(split_property(logical.trim()));
    }
    out
}
