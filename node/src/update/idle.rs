//! When the node may take a release: [`wanted`] says whether the plan's release is one to take
//! at all, [`may_install`] whether now is the time. Both pure, tested with tables below.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{Plan, Priority, ReleaseRef};

use super::trial::Releases;

/// No download starts when an item is due within this long: a download and a restart take
/// well under a minute on a village link, and an announcement must not wait for them.
pub const QUIET_BEFORE_ITEM: Duration = Duration::minutes(5);

/// What the node looks at before it downloads a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct World {
    /// An item plays now.
    pub on_air: bool,
    /// An emergency item is in the plan and not over.
    pub emergency: bool,
    /// The next item's start, if any is still to come.
    pub next_start: Option<DateTime<Utc>>,
    /// `[update] metered = true` in node.toml.
    pub metered: bool,
}

/// Why not now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotNow {
    Playing,
    Emergency,
    ItemDue,
    Metered,
}

impl NotNow {
    pub fn reason(self) -> &'static str {
        match self {
            NotNow::Playing => "an item is playing",
            NotNow::Emergency => "an emergency is on",
            NotNow::ItemDue => "an item is due within five minutes",
            NotNow::Metered => "the link is metered and the rollout does not allow metered links",
        }
    }
}

impl World {
    /// The world as the plan and the player show it at `now`.
    pub fn of(plan: Option<&Plan>, on_air: bool, metered: bool, now: DateTime<Utc>) -> World {
        let live = plan
            .map(|p| {
                p.items
                    .iter()
                    .filter(|i| i.expires_at > now)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        World {
            on_air,
            emergency: live.iter().any(|i| {
                i.priority == Priority::Emergency && i.start_at <= now + QUIET_BEFORE_ITEM
            }),
            next_start: live.iter().map(|i| i.start_at).filter(|s| *s > now).min(),
            metered,
        }
    }
}

/// Whether the node may download and switch now.
pub fn may_install(w: &World, allow_metered: bool, now: DateTime<Utc>) -> Result<(), NotNow> {
    if w.emergency {
        return Err(NotNow::Emergency);
    }
    if w.on_air {
        return Err(NotNow::Playing);
    }
    if w.next_start.is_some_and(|s| s - now < QUIET_BEFORE_ITEM) {
        return Err(NotNow::ItemDue);
    }
    if w.metered && !allow_metered {
        return Err(NotNow::Metered);
    }
    Ok(())
}

/// The plan's release, if it is one this node should take: another version than its own,
/// for its architecture, and not the one it last rolled back from.
pub fn wanted<'a>(
    release: Option<&'a ReleaseRef>,
    running: &str,
    arch: &str,
    releases: &Releases,
) -> Option<&'a ReleaseRef> {
    let r = release?;
    let rolled_back = releases
        .last_rollback
        .as_ref()
        .is_some_and(|b| b.version == r.version);
    (r.version != running && r.arch == arch && !rolled_back).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-07T06:00:00Z".parse().unwrap()
    }

    fn world() -> World {
        World {
            on_air: false,
            emergency: false,
            next_start: None,
            metered: false,
        }
    }

    #[test]
    fn installs_only_when_idle_and_allowed() {
        let cases: Vec<(&str, World, bool, Result<(), NotNow>)> = vec![
            ("idle", world(), false, Ok(())),
            (
                "next item in an hour",
                World {
                    next_start: Some(now() + Duration::hours(1)),
                    ..world()
                },
                false,
                Ok(()),
            ),
            (
                "an item plays",
                World {
                    on_air: true,
                    ..world()
                },
                true,
                Err(NotNow::Playing),
            ),
            (
                "an emergency, even while nothing plays",
                World {
                    emergency: true,
                    ..world()
                },
                true,
                Err(NotNow::Emergency),
            ),
            (
                "an item due in four minutes",
                World {
                    next_start: Some(now() + Duration::minutes(4)),
                    ..world()
                },
                true,
                Err(NotNow::ItemDue),
            ),
            (
                "metered link, not allowed",
                World {
                    metered: true,
                    ..world()
                },
                false,
                Err(NotNow::Metered),
            ),
            (
                "metered link, allowed by the rollout",
                World {
                    metered: true,
                    ..world()
                },
                true,
                Ok(()),
            ),
        ];
        for (name, w, allow_metered, want) in cases {
            assert_eq!(may_install(&w, allow_metered, now()), want, "{name}");
        }
    }

    fn release(version: &str, arch: &str) -> ReleaseRef {
        ReleaseRef {
            version: version.into(),
            arch: arch.into(),
            url: "http://c/r".into(),
            sha256: "ab".repeat(32),
            size: 1,
            signature: String::new(),
            allow_metered: false,
        }
    }

    #[test]
    fn takes_only_another_version_for_its_arch_not_rolled_back() {
        let mut rolled = Releases::default();
        rolled.begin_trial("3", Some("2"), now());
        rolled.roll_back("crashed", now());
        let fresh = Releases::default();
        let cases: Vec<(&str, Option<ReleaseRef>, &Releases, bool)> = vec![
            ("no release", None, &fresh, false),
            ("a new version", Some(release("3", "amd64")), &fresh, true),
            (
                "the running version",
                Some(release("2", "amd64")),
                &fresh,
                false,
            ),
            ("another arch", Some(release("3", "arm64")), &fresh, false),
            (
                "rolled back from it",
                Some(release("3", "amd64")),
                &rolled,
                false,
            ),
            (
                "a newer one after a rollback",
                Some(release("4", "amd64")),
                &rolled,
                true,
            ),
        ];
        for (name, r, releases, want) in cases {
            assert_eq!(
                wanted(r.as_ref(), "2", "amd64", releases).is_some(),
                want,
                "{name}"
            );
        }
    }
}
