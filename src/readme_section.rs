//! Test support: a section of README.md generated from a table in the code (the property
//! table, the metric table) must be what the code generates, so the two cannot drift apart.

/// Checks the README's text between `<!-- {marker}:start -->` and `<!-- {marker}:end -->`
/// against `want`. With `UPDATE_README` set, rewrites the section instead; otherwise a
/// difference panics, naming the test (`test_name`) that regenerates it.
pub(crate) fn check(marker: &str, want: &str, test_name: &str) {
    let start_tag = format!("<!-- {marker}:start -->\n");
    let end_tag = format!("<!-- {marker}:end -->");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let (Some(start), Some(end)) = (readme.find(&start_tag), readme.find(&end_tag)) else {
        panic!("README.md has no {start_tag:?} ... {end_tag:?} markers");
    };
    let body = start + start_tag.len();
    if readme[body..end] == *want {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{want}{}", &readme[..body], &readme[end..]);
        std::fs::write(path, updated).expect("README.md is writable");
        return;
    }
    panic!(
        "README.md's {marker} table differs from the code; run \
         `UPDATE_README=1 cargo test --lib {test_name}` to regenerate it. Expected:\n{want}"
    );
}
