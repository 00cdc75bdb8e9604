//! Staff accounts and API tokens: add an account (the password rules first), change one
//! (never leaving the commune without an admin who can sign in), make a token. Shared by the
//! API, the users page and `loa-controller user add`.

use serde::Deserialize;

use super::OpError;
use crate::auth::{password, Actor, TOKEN_PREFIX};
use crate::secrets::{hash_secret, new_secret};
use crate::store::accounts::{NewUser, Role, TokenRow, User};

#[derive(utoipa::ToSchema, Deserialize)]
pub struct NewAccount {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    pub role: Role,
    pub language: Option<String>,
    /// Limit the account to these zones (and what lies below); none: the whole commune.
    #[serde(default)]
    pub zone_ids: Vec<i64>,
}

/// Creates an account after checking the password rules; shared with `loa-controller user add`.
pub async fn add_user(store: &crate::store::Store, a: &NewAccount) -> Result<User, OpError> {
    password::check_new(&a.password).map_err(OpError::invalid)?;
    let hash = password::hash(&a.password);
    Ok(store
        .create_user(&NewUser {
            username: a.username.trim(),
            // Left blank: the user name.
            display_name: a
                .display_name
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or(a.username.trim()),
            password_hash: &hash,
            role: a.role,
            language: a.language.as_deref().unwrap_or("vi"),
            zone_ids: &a.zone_ids,
        })
        .await?)
}

/// A change to an account; fields left out stay as they are.
#[derive(utoipa::ToSchema, Deserialize, Default)]
pub struct AccountPatch {
    pub role: Option<Role>,
    /// The zones it is limited to; empty: the whole commune.
    pub zone_ids: Option<Vec<i64>>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

/// Changes account `id` as `actor` asks, after the password rules, and refuses what would
/// leave no admin who can sign in or would disable the actor's own account. Shared with the
/// users page.
pub async fn change_user(
    store: &crate::store::Store,
    actor: &Actor,
    id: i64,
    p: &AccountPatch,
) -> Result<User, OpError> {
    let hash = match &p.password {
        Some(pw) => {
            password::check_new(pw).map_err(OpError::invalid)?;
            Some(password::hash(pw))
        }
        None => None,
    };
    let demoted = p.role.is_some_and(|r| r != Role::Admin) || p.disabled == Some(true);
    if demoted {
        let admins_left = store
            .users()
            .await?
            .iter()
            .filter(|u| u.role == Role::Admin && u.disabled_at.is_none() && u.id != id)
            .count();
        if admins_left == 0 {
            return Err(OpError::invalid(
                "that would leave no admin who can sign in; make another admin first",
            ));
        }
    }
    if id == actor.user.id && p.disabled == Some(true) {
        return Err(OpError::invalid("you cannot disable your own account"));
    }
    Ok(store
        .update_user(
            id,
            p.role,
            p.zone_ids.as_deref(),
            hash.as_deref(),
            p.disabled,
        )
        .await?)
}

/// Makes an API token for `user_id`; returns its record and the token itself.
pub async fn make_token(
    store: &crate::store::Store,
    user_id: i64,
    name: &str,
) -> Result<(TokenRow, String), OpError> {
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let row = store
        .create_token(user_id, name, &hash_secret(&token))
        .await?;
    Ok((row, token))
}
