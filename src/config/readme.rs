//! The README's property table, generated from the property table so the two cannot drift
//! apart (`tests.rs` compares them).

use super::properties::{DefaultValue, Property, Range, Status, Type, PROPERTIES};
use std::fmt::Write as _;

fn type_label(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "bool",
        Type::Int => "int",
        Type::Long => "long",
        Type::Double => "double",
        Type::Ms => "ms",
        Type::String => "string",
        Type::List => "list",
        Type::Class => "class",
        Type::Password => "password",
        Type::Enum { .. } => "enum",
    }
}

fn range_text(p: &Property) -> String {
    let num = |n: i64| match n {
        i64::MAX => "2^63-1".to_string(),
        i64::MIN => "-2^63".to_string(),
        n => n.to_string(),
    };
    match (p.ty, p.range) {
        (Type::Enum { values, .. }, _) => values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", "),
        (_, Range::Between(min, i64::MAX)) => format!("≥ {}", num(min)),
        (_, Range::Between(min, max)) => format!("{} to {}", num(min), num(max)),
        (_, Range::SentinelOr(s, min, max)) => format!("{s} or {min} to {max}"),
        (_, Range::Fraction(min, max)) => format!("{min} to {max}"),
        (_, Range::Described(text)) => text.to_string(),
        (_, Range::Any) => String::new(),
    }
}

fn default_text(d: DefaultValue) -> String {
    match d {
        DefaultValue::None => String::new(),
        DefaultValue::Bool(b) => format!("`{b}`"),
        DefaultValue::Num(n) => format!("`{n}`"),
        DefaultValue::Double(x) => format!("`{x}`"),
        DefaultValue::Text("") => "`\"\"`".to_string(),
        DefaultValue::Text(t) => format!("`{t}`"),
    }
}

fn status_text(s: Status) -> String {
    match s {
        Status::Effective => "yes".to_string(),
        Status::Ignored { reason } => format!("ignored: {reason}"),
        Status::Unsupported { reason } => format!("error if set: {reason}"),
    }
}

/// The README's property table (Markdown), generated from [`PROPERTIES`].
pub(crate) fn markdown_table() -> String {
    let mut out = String::from(
        "| Property | Type | Default | Valid values | Takes effect |\n|---|---|---|---|---|\n",
    );
    for p in PROPERTIES {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            p.name,
            type_label(p.ty),
            default_text(p.default),
            range_text(p),
            status_text(p.status)
        );
    }
    out
}
