//! `/admin/consumers...` (admin role): the API-key consumers in force, new keys and
//! revocations. Changes are written to the consumers file (the source of truth, kept
//! with its comments; see `rampart_identity::apikey::edit`), atomically, and applied at
//! once; a key is shown only in the answer that created it. A consumers file that came
//! with a policy pushed from the LAN is read-only here: the next push would undo an edit,
//! so keys are minted and revoked in the LAN's copy.
//!
//! | call | does |
//! |---|---|
//! | `GET /admin/consumers[/NAME]` | consumers with plan, roles, scopes and key ids |
//! | `POST /admin/consumers/NAME/keys` `{"expires": "RFC 3339"}` (body optional) | a new key |
//! | `DELETE /admin/consumers/NAME/keys/ID` | revokes the key |

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http::Method;
use rampart_identity::Identity;
use rampart_identity::apikey::ApiKeys;
use rampart_identity::apikey::edit::{self, EditError};
use rampart_service::admin::{ActionError, ManageRequest};

/// One edit of the file at a time (across requests and reload generations).
static EDITS: Mutex<()> = Mutex::new(());

pub(super) async fn manage(
    request: ManageRequest,
    identity: Option<Arc<Identity>>,
    pushed_dir: Option<PathBuf>,
) -> Result<serde_json::Value, ActionError> {
    let store = identity
        .filter(|i| i.api_keys.is_some())
        .ok_or_else(|| ActionError::NotFound("no consumers file is configured".to_owned()));
    let parts: Vec<&str> = request.path.split('/').collect();
    let writable = |identity: Arc<Identity>| match (&pushed_dir, &identity.api_keys) {
        (Some(dir), Some(keys)) if keys.path().starts_with(dir) => Err(ActionError::Invalid(
            "the consumers come from a policy pushed from the LAN; change them there".to_owned(),
        )),
        _ => Ok(identity),
    };
    match (&request.method, parts.as_slice()) {
        (&Method::GET, ["consumers"]) => view(&current(&*store?), None),
        (&Method::GET, ["consumers", name]) => view(&current(&*store?), Some(name)),
        (&Method::POST, ["consumers", name, "keys"]) => {
            let expires = match request.body.as_ref().and_then(|b| b.get("expires")) {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(at)) => Some(at.clone()),
                Some(_) => return Err(ActionError::Invalid("expires must be a string".into())),
            };
            let (identity, name) = (writable(store?)?, (*name).to_owned());
            blocking(move || add(&identity, &name, expires.as_deref())).await
        }
        (&Method::DELETE, ["consumers", name, "keys", id]) => {
            let (identity, name, id) = (writable(store?)?, (*name).to_owned(), (*id).to_owned());
            blocking(move || revoke(&identity, &name, &id)).await
        }
        _ => Err(ActionError::Unsupported),
    }
}

fn current(identity: &Identity) -> Arc<ApiKeys> {
    identity
        .api_keys
        .as_ref()
        .map(|w| w.current())
        .unwrap_or_default()
}

async fn blocking<F>(f: F) -> Result<serde_json::Value, ActionError>
where
    F: FnOnce() -> Result<serde_json::Value, ActionError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ActionError::Failed("the edit did not finish".to_owned()))?
}

fn edit_error(e: EditError) -> ActionError {
    match e {
        EditError::NoConsumer | EditError::NoKey => ActionError::NotFound(e.to_string()),
        other => ActionError::Invalid(other.to_string()),
    }
}

/// Reads the file, applies `change`, writes the result atomically and reloads it.
fn edit_file<T>(
    identity: &Identity,
    change: impl FnOnce(&str) -> Result<(String, T), EditError>,
) -> Result<T, ActionError> {
    let _one = EDITS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = identity
        .api_keys
        .as_ref()
        .map(|w| w.path().to_path_buf())
        .ok_or_else(|| ActionError::NotFound("no consumers file is configured".to_owned()))?;
    let failed = |e: std::io::Error| {
        tracing::warn!(file = %path.display(), error = %e, "consumers file not written");
        ActionError::Failed("the consumers file could not be written".to_owned())
    };
    let text = std::fs::read_to_string(&path).map_err(failed)?;
    let (new_text, out) = change(&text).map_err(edit_error)?;
    write_atomically(&path, &new_text).map_err(failed)?;
    for (file, event) in identity.reload_if_changed() {
        tracing::info!(file = %file.display(), event = ?event, "identity file reloaded after an admin edit");
    }
    Ok(out)
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("rampart-edit");
    std::fs::write(&tmp, text)?;
    // The file holds only hashes, but keep whatever mode the operator gave it.
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, path)
}

fn add(
    identity: &Identity,
    consumer: &str,
    expires: Option<&str>,
) -> Result<serde_json::Value, ActionError> {
    let key = edit_file(identity, |text| edit::add_key(text, consumer, expires))?;
    let id = edit::key_id(key.hash.trim_start_matches("sha256:")).to_owned();
    tracing::info!(consumer, key_id = %id, "API key created by an admin");
    Ok(serde_json::json!({
        "consumer": consumer,
        "id": id,
        "key": key.key,
        "expires": expires,
    }))
}

fn revoke(identity: &Identity, consumer: &str, id: &str) -> Result<serde_json::Value, ActionError> {
    edit_file(identity, |text| {
        Ok((edit::revoke_key(text, consumer, id)?, ()))
    })?;
    tracing::info!(consumer, key_id = id, "API key revoked by an admin");
    Ok(serde_json::json!({ "consumer": consumer, "id": id, "revoked": true }))
}

/// The consumers in force (never a key or a hash, only key ids).
fn view(keys: &ApiKeys, wanted: Option<&str>) -> Result<serde_json::Value, ActionError> {
    let list: Vec<serde_json::Value> = (keys.consumers().iter().zip(keys.key_ids()))
        .filter(|(c, _)| wanted.is_none_or(|name| c.name == name))
        .map(|(c, ids)| {
            serde_json::json!({
                "name": c.name, "enabled": c.enabled, "plan": c.plan,
                "roles": c.roles, "scopes": c.scopes, "keys": ids,
            })
        })
        .collect();
    match (wanted, list.as_slice()) {
        (Some(_), [one]) => Ok(one.clone()),
        (Some(_), _) => Err(ActionError::NotFound("no such consumer".to_owned())),
        (None, _) => Ok(serde_json::json!({ "consumers": list })),
    }
}
