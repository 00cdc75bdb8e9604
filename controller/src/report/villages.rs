//! Which zone is a report's "village": a child of a top zone (the commune). Nodes anywhere
//! below a village (in its loudspeaker-cluster zones) count for it; nodes placed on a top zone
//! itself get a row of that zone. Pure.

use std::collections::HashMap;

use crate::store::zones::Zone;

/// The rows a report can have, in order, and the row each zone's nodes count for.
#[derive(Debug, Clone, PartialEq)]
pub struct Villages {
    /// Every village, by commune then name, then the top zones (their rows appear only when
    /// nodes stand on them directly: see [`Villages::row_of`]).
    pub rows: Vec<Zone>,
    /// Zone id → the row its nodes count for.
    row_of: HashMap<i64, i64>,
}

impl Villages {
    pub fn new(zones: &[Zone]) -> Villages {
        let by_id: HashMap<i64, &Zone> = zones.iter().map(|z| (z.id, z)).collect();
        let mut row_of = HashMap::new();
        for z in zones {
            // Walk up until the parent is a top zone (or this is one). The depth bound only
            // guards against a cycle the database does not allow anyway.
            let mut cur = z;
            for _ in 0..zones.len() {
                match cur.parent_id.and_then(|p| by_id.get(&p)) {
                    Some(parent) if parent.parent_id.is_some() => cur = parent,
                    _ => break,
                }
            }
            row_of.insert(z.id, cur.id);
        }
        let name = |id: Option<i64>| {
            id.and_then(|i| by_id.get(&i))
                .map_or("", |z| z.name.as_str())
        };
        let mut villages: Vec<Zone> = zones
            .iter()
            .filter(|z| {
                z.parent_id
                    .and_then(|p| by_id.get(&p))
                    .is_some_and(|p| p.parent_id.is_none())
            })
            .cloned()
            .collect();
        villages.sort_by(|a, b| {
            (name(a.parent_id), &a.name, a.id).cmp(&(name(b.parent_id), &b.name, b.id))
        });
        let mut tops: Vec<Zone> = zones
            .iter()
            .filter(|z| z.parent_id.is_none())
            .cloned()
            .collect();
        tops.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        villages.extend(tops);
        Villages {
            rows: villages,
            row_of,
        }
    }

    /// The row (village, or a top zone) the nodes of `zone` count for.
    pub fn row_of(&self, zone: i64) -> Option<i64> {
        self.row_of.get(&zone).copied()
    }

    /// Whether `zone` is a top zone (a commune), whose row is shown only if nodes stand on it.
    pub fn is_top(&self, zone: i64) -> bool {
        self.rows
            .iter()
            .any(|z| z.id == zone && z.parent_id.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(id: i64, name: &str, parent: Option<i64>) -> Zone {
        Zone {
            id,
            name: name.into(),
            parent_id: parent,
        }
    }

    #[test]
    fn villages_are_the_children_of_the_top_zone() {
        let zones = [
            z(1, "Xã Tả Lùng", None),
            z(2, "Thôn Nà Sài", Some(1)),
            z(3, "Bản Phiêng", Some(1)),
            z(4, "Cụm loa đầu thôn", Some(2)),
            z(5, "Nhà văn hoá", Some(4)),
        ];
        let v = Villages::new(&zones);
        let names: Vec<&str> = v.rows.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(names, ["Bản Phiêng", "Thôn Nà Sài", "Xã Tả Lùng"]);
        // (zone, the row its nodes count for)
        for (zone, row) in [(1, 1), (2, 2), (3, 3), (4, 2), (5, 2)] {
            assert_eq!(v.row_of(zone), Some(row), "zone {zone}");
        }
        assert!(v.is_top(1) && !v.is_top(2));
        assert_eq!(v.row_of(99), None);
    }

    #[test]
    fn each_commune_has_its_villages() {
        let zones = [
            z(1, "Xã B", None),
            z(2, "Xã A", None),
            z(3, "Thôn 1", Some(1)),
            z(4, "Thôn 1", Some(2)),
        ];
        let v = Villages::new(&zones);
        let ids: Vec<i64> = v.rows.iter().map(|z| z.id).collect();
        assert_eq!(
            ids,
            [4, 3, 2, 1],
            "Xã A's village first, then Xã B's, then the communes"
        );
    }
}
