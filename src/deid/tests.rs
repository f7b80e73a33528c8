//! Tests of the de-identification library.

use super::profile::{parse_table, TABLE};

/// The table parses and holds every row of PS3.15 Table E.1-1 (2024b: 621 attributes).
#[test]
fn table_parses_with_every_row() {
    let rules = parse_table(TABLE).unwrap();
    assert_eq!(rules.len(), 621);
    assert_eq!(rules, super::rules());
}
