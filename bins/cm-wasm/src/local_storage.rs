//! The page's `localStorage` as a [`KeyValue`] (wasm32 only).

use wasm_bindgen::JsValue;

use crate::store::{KeyValue, StoreError};

/// `window.localStorage`; every call looks it up, so a page without one fails cleanly.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalStorage;

fn storage() -> Result<web_sys::Storage, StoreError> {
    let window = web_sys::window().ok_or_else(|| StoreError::Unavailable("no window".into()))?;
    match window.local_storage() {
        Ok(Some(storage)) => Ok(storage),
        Ok(None) => Err(StoreError::Unavailable(
            "this page has no localStorage".into(),
        )),
        Err(error) => Err(StoreError::Unavailable(js_text(&error))),
    }
}

/// Whether `error` is the DOM's `QuotaExceededError`.
fn is_quota(error: &JsValue) -> bool {
    let name = js_sys::Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_default();
    name == "QuotaExceededError" || name == "NS_ERROR_DOM_QUOTA_REACHED"
}

fn js_text(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &JsValue::from_str("message"))
        .ok()
        .and_then(|message| message.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

impl KeyValue for LocalStorage {
    fn get(&self, key: &str) -> Option<String> {
        storage().ok()?.get_item(key).ok().flatten()
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        storage()?.set_item(key, value).map_err(|error| {
            if is_quota(&error) {
                StoreError::QuotaExceeded
            } else {
                StoreError::Unavailable(js_text(&error))
            }
        })
    }

    fn remove(&mut self, key: &str) {
        if let Ok(storage) = storage() {
            let _ = storage.remove_item(key);
        }
    }
}
