//! The id of a plan item, as both sides write and read it: `o{id}` for an occurrence (one
//! airing of a broadcast or a schedule). Nodes treat ids as opaque; the controller parses them
//! back to find the delivery an event is about. The scheme lives here so no one else spells it.

/// A plan item's id for an occurrence: `o{id}`.
pub fn item_id(occurrence_id: i64) -> String {
    format!("o{occurrence_id}")
}

/// The occurrence id inside a plan item id, or `None` for an id of another scheme.
pub fn occurrence_of(item_id: &str) -> Option<i64> {
    item_id.strip_prefix('o')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_round_trip_and_other_schemes_are_none() {
        assert_eq!(occurrence_of(&item_id(42)), Some(42));
        for other in ["x42", "o", "o-", "oo1", ""] {
            assert_eq!(occurrence_of(other), None, "{other:?}");
        }
    }
}
