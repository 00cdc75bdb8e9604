//! The commune's settings, one JSON value per key in the `settings` table: whether schedules
//! wait for approval, the chime, what an item cut by an emergency does afterwards, and the
//! languages zones hear by default. Each has a typed reader with its default here.

use loa_protocol::AfterPreempt;

use super::parts::DEFAULT_LANGUAGES;
use super::{Result, Store};

/// The setting that holds the station map's tile URL template.
pub const MAP_TILE_URL_KEY: &str = "map_tile_url";

impl Store {
    /// One setting's value, if set.
    pub async fn setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        // A value that is not JSON reads as unset, and the setting takes its default.
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub async fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The languages zones hear when no zone above them says: the commune's `languages`
    /// setting, else [`DEFAULT_LANGUAGES`].
    pub async fn default_languages(&self) -> Result<Vec<String>> {
        let setting = self.setting("languages").await?;
        Ok(setting
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_else(|| DEFAULT_LANGUAGES.iter().map(|l| l.to_string()).collect()))
    }

    /// The station map's tile URL template (`map_tile_url`); empty (the default) for a plain
    /// background, as a centre without Internet needs.
    pub async fn map_tile_url(&self) -> Result<String> {
        Ok(self
            .setting(MAP_TILE_URL_KEY)
            .await?
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default())
    }

    /// The commune's chime recording (its SHA-256), if one is set.
    pub async fn chime_media(&self) -> Result<Option<String>> {
        Ok(self
            .setting("chime_media")
            .await?
            .and_then(|v| v.as_str().map(str::to_owned)))
    }

    /// What an item cut by an emergency does afterwards (the commune's `after_preempt`).
    pub async fn after_preempt(&self) -> Result<AfterPreempt> {
        Ok(self
            .setting("after_preempt")
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }

    /// Whether schedules made through the API or the pages wait as drafts for approval.
    pub async fn require_approval(&self) -> Result<bool> {
        Ok(self
            .setting("require_approval")
            .await?
            .and_then(|v| v.as_bool())
            .unwrap_or(false))
    }
}
