//! Runtime block/detect switches per route, for `POST /admin/routes/{name}/mode`.
//!
//! The set of routes is fixed when a tier starts (one switch per configured route whose
//! detection is on); only the switches change, so a lookup on the request path takes
//! no lock. Setting a route back to its configured mode clears the override.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use super::actions::{ActionError, Mode};

const AS_CONFIGURED: u8 = 0;
const FORCE_BLOCK: u8 = 1;
const FORCE_DETECT: u8 = 2;

/// One route's switch.
#[derive(Debug)]
pub struct ModeSwitch {
    configured: Mode,
    forced: AtomicU8,
}

impl ModeSwitch {
    /// A switch that starts as `configured`.
    pub fn new(configured: Mode) -> Self {
        ModeSwitch {
            configured,
            forced: AtomicU8::new(AS_CONFIGURED),
        }
    }

    /// The mode in force now.
    pub fn effective(&self) -> Mode {
        match self.forced.load(Ordering::Relaxed) {
            FORCE_BLOCK => Mode::Block,
            FORCE_DETECT => Mode::Detect,
            _ => self.configured,
        }
    }

    /// The mode the configuration gives.
    pub fn configured(&self) -> Mode {
        self.configured
    }

    /// Switches to `mode`; the configured mode clears the override.
    pub fn set(&self, mode: Mode) {
        let forced = match mode {
            m if m == self.configured => AS_CONFIGURED,
            Mode::Block => FORCE_BLOCK,
            Mode::Detect => FORCE_DETECT,
        };
        self.forced.store(forced, Ordering::Relaxed);
    }
}

/// The switches of every switchable route.
#[derive(Debug, Default)]
pub struct RouteModes {
    routes: HashMap<String, Arc<ModeSwitch>>,
    /// Routes that exist but have detection off (no switch: nothing to enforce).
    off: Vec<String>,
}

impl RouteModes {
    /// Adds `route` with its configured mode (`None`: detection is off there) and
    /// returns its switch. A name added twice keeps the first switch.
    pub fn register(&mut self, route: &str, configured: Option<Mode>) -> Arc<ModeSwitch> {
        match configured {
            Some(mode) => self
                .routes
                .entry(route.to_owned())
                .or_insert_with(|| Arc::new(ModeSwitch::new(mode)))
                .clone(),
            None => {
                self.off.push(route.to_owned());
                Arc::new(ModeSwitch::new(Mode::Block))
            }
        }
    }

    /// The switch of `route`, when it has one.
    pub fn get(&self, route: &str) -> Option<&Arc<ModeSwitch>> {
        self.routes.get(route)
    }

    /// Switches `route` to `mode`.
    pub fn set(&self, route: &str, mode: Mode) -> Result<(), ActionError> {
        match self.routes.get(route) {
            Some(switch) => {
                switch.set(mode);
                Ok(())
            }
            None if self.off.iter().any(|r| r == route) => Err(ActionError::Invalid(format!(
                "detection is off on route {route}; enable it in the configuration first"
            ))),
            None => Err(ActionError::NotFound(format!("no route named {route}"))),
        }
    }

    /// Routes whose mode differs from the configuration, by name.
    pub fn overrides(&self) -> Vec<(String, Mode)> {
        let mut out: Vec<(String, Mode)> = self
            .routes
            .iter()
            .filter(|(_, s)| s.effective() != s.configured())
            .map(|(name, s)| (name.clone(), s.effective()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// [`Self::overrides`] as the JSON object a tier's status reports.
    pub fn overrides_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.overrides()
            .into_iter()
            .map(|(route, mode)| (route, mode.as_str().into()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_routes_and_back_and_refuses_unknown_or_off_routes() {
        let mut modes = RouteModes::default();
        let orders = modes.register("orders", Some(Mode::Block));
        let tuning = modes.register("tuning", Some(Mode::Detect));
        modes.register("static", None);
        assert_eq!(orders.effective(), Mode::Block);
        assert_eq!(modes.set("orders", Mode::Detect), Ok(()));
        assert_eq!(orders.effective(), Mode::Detect);
        assert_eq!(modes.overrides(), vec![("orders".to_owned(), Mode::Detect)]);
        assert_eq!(modes.set("tuning", Mode::Block), Ok(()));
        assert_eq!(tuning.effective(), Mode::Block);
        assert_eq!(modes.set("orders", Mode::Block), Ok(()));
        assert_eq!(modes.set("tuning", Mode::Detect), Ok(()));
        assert!(modes.overrides().is_empty());
        assert!(matches!(
            modes.set("static", Mode::Detect),
            Err(ActionError::Invalid(_))
        ));
        assert!(matches!(
            modes.set("ordersx", Mode::Detect),
            Err(ActionError::NotFound(_))
        ));
    }
}
