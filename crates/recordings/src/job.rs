//! The settings of a periodic export job ([`JobSettings`], the API's type), checked field by
//! field, and its schedule: an interval, optionally held to a daily window of export hours
//! (UTC). The catalog describes every setting but the services and the window
//! (`patchbay_catalog::export_job`): their ranges, defaults and checks come from there.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use patchbay_api::{JobSettings, Window};
use patchbay_catalog::export_job::{export_job_settings, keys};
use patchbay_catalog::FieldError;
use serde_json::{Map, Value};

use crate::template::KeyTemplate;

const MAX_SERVICES: usize = 200;
const MAX_SERVICE_LEN: usize = 255;
const SERVICES: &str = "services";
const WINDOW: &str = "window";

/// A described setting's value as read by the catalog, which puts a default in place of a
/// missing or refused value (`null` for a setting without one).
fn described<'a>(values: &'a Map<String, Value>, key: &str) -> &'a Value {
    values.get(key).unwrap_or(&Value::Null)
}

/// Reads the settings from a job body, defaults filled in. Every problem is reported, each
/// naming its field and rule. The body's other fields (`name`, `account_id`, `enabled`)
/// are the caller's.
pub fn settings_from_body(body: &Map<String, Value>) -> Result<JobSettings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut error = |field: &str, rule: &'static str, message: String| {
        errors.push(FieldError { field: field.to_owned(), rule, message })
    };
    let services = match body.get(SERVICES) {
        None | Some(Value::Null) => {
            error("services", "required", "services is required: the services whose recordings to export".into());
            Vec::new()
        }
        Some(Value::Array(items)) => {
            let mut services = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(str::trim) {
                    Some(s) if !s.is_empty() && s.chars().count() <= MAX_SERVICE_LEN => {
                        if !services.iter().any(|known: &String| known == s) {
                            services.push(s.to_owned());
                        }
                    }
                    _ => error(
                        &format!("services[{i}]"),
                        "service_name",
                        format!("each service must be a non-empty string of at most {MAX_SERVICE_LEN} characters"),
                    ),
                }
            }
            if items.is_empty() {
                error("services", "min_items", "services must name at least one service".into());
            }
            if items.len() > MAX_SERVICES {
                error("services", "max_items", format!("services may name at most {MAX_SERVICES} services"));
            }
            services
        }
        Some(_) => {
            error("services", "type", "services must be an array of service names".into());
            Vec::new()
        }
    };
    let (values, mut problems) = export_job_settings().read(body);
    // The prefix and template come first among the described settings: their problems,
    // then the template's, then the others'.
    let texts =
        problems.iter().take_while(|e| [keys::KEY_PREFIX, keys::FILENAME_TEMPLATE].contains(&e.field.as_str())).count();
    for e in problems.drain(..texts) {
        error(&e.field, e.rule, e.message);
    }
    let text = |key: &str| described(&values, key).as_str().unwrap_or_default().to_owned();
    let (key_prefix, filename_template) = (text(keys::KEY_PREFIX), text(keys::FILENAME_TEMPLATE));
    if let Err(e) = KeyTemplate::new(&key_prefix, &filename_template) {
        let field = match e {
            crate::TemplateError::PrefixEnd => keys::KEY_PREFIX,
            crate::TemplateError::Character(what, _) | crate::TemplateError::Folder(what)
                if what.contains("prefix") =>
            {
                keys::KEY_PREFIX
            }
            _ => keys::FILENAME_TEMPLATE,
        };
        error(field, "template", e.to_string());
    }
    for e in problems {
        error(&e.field, e.rule, e.message);
    }
    let number = |key: &str| described(&values, key).as_u64();
    let interval_seconds = number(keys::INTERVAL_SECONDS).unwrap_or_default();
    let concurrency = number(keys::CONCURRENCY).unwrap_or_default();
    let bandwidth_limit_bytes_per_second = number(keys::BANDWIDTH_LIMIT);
    let delete_local_after_export = described(&values, keys::DELETE_LOCAL_AFTER_EXPORT).as_bool().unwrap_or_default();
    let window = match body.get(WINDOW) {
        None | Some(Value::Null) => None,
        Some(value) => match window_from_json(value) {
            Ok(window) => Some(window),
            Err((field, rule, message)) => {
                error(&field, rule, message);
                None
            }
        },
    };
    if errors.is_empty() {
        Ok(JobSettings {
            services,
            key_prefix,
            filename_template,
            interval_seconds,
            window,
            bandwidth_limit_bytes_per_second,
            delete_local_after_export,
            concurrency,
        })
    } else {
        Err(errors)
    }
}

fn window_from_json(value: &Value) -> Result<Window, (String, &'static str, String)> {
    let Value::Object(map) = value else {
        return Err(("window".into(), "type", r#"window must be {"start": "HH:MM", "end": "HH:MM"} (UTC)"#.into()));
    };
    if let Some(extra) = map.keys().find(|k| *k != "start" && *k != "end") {
        return Err((format!("window.{extra}"), "unknown_field", "window has only start and end".into()));
    }
    let time = |field: &str| {
        let name = format!("window.{field}");
        match map.get(field).and_then(Value::as_str) {
            Some(text) => Window::parse_time(text)
                .ok_or_else(|| (name.clone(), "time", format!("{name} must be a time HH:MM from 00:00 to 23:59"))),
            None => Err((name.clone(), "required", format!("{name} is required (HH:MM, UTC)"))),
        }
    };
    let window = Window { start: time("start")?, end: time("end")? };
    if window.start == window.end {
        return Err((
            "window.end".into(),
            "window_empty",
            "window.end must differ from window.start; leave window out to export at any hour".into(),
        ));
    }
    Ok(window)
}

/// When a job runs and may upload: its interval, held to its window.
pub trait Schedule {
    /// When a job whose run started at `started` runs next: an interval later, or when its
    /// window next opens if that is later.
    fn next_run(&self, started: DateTime<Utc>) -> DateTime<Utc>;

    /// Whether a run may start uploads at `now`.
    fn may_export_at(&self, now: DateTime<Utc>) -> bool;

    /// `now` if a run may upload then, else when the window next opens.
    fn opens_at(&self, now: DateTime<Utc>) -> DateTime<Utc>;
}

impl Schedule for JobSettings {
    fn next_run(&self, started: DateTime<Utc>) -> DateTime<Utc> {
        let next = started + Duration::seconds(self.interval_seconds as i64);
        self.opens_at(next)
    }

    fn may_export_at(&self, now: DateTime<Utc>) -> bool {
        self.window.is_none_or(|w| contains(w, now))
    }

    fn opens_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.window.map_or(now, |w| next_open(w, now))
    }
}

fn contains(window: Window, now: DateTime<Utc>) -> bool {
    let t: NaiveTime = now.time();
    if window.start < window.end {
        window.start <= t && t < window.end
    } else {
        t >= window.start || t < window.end
    }
}

/// `at` if the window is open then, else the next time it opens.
fn next_open(window: Window, at: DateTime<Utc>) -> DateTime<Utc> {
    if contains(window, at) {
        return at;
    }
    let today = at.date_naive().and_time(window.start).and_utc();
    if today > at {
        today
    } else {
        today + Duration::days(1)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn fields(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.rule)).collect()
    }

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, m, 0).unwrap()
    }

    #[test]
    fn defaults_fill_what_the_body_leaves_out() {
        let settings = settings_from_body(&body(json!({"services": ["Sales", "Sales", " Support "]}))).unwrap();
        assert_eq!(settings.services, ["Sales", "Support"]);
        assert_eq!(settings.key_prefix, "");
        let described = export_job_settings().field(keys::FILENAME_TEMPLATE).and_then(|f| f.default.clone());
        assert_eq!(Some(Value::String(settings.filename_template.clone())), described);
        assert_eq!((settings.interval_seconds, settings.concurrency), (3600, 4));
        assert_eq!((settings.window, settings.bandwidth_limit_bytes_per_second), (None, None));
        assert!(!settings.delete_local_after_export);
        let round_trip: JobSettings = serde_json::from_value(serde_json::to_value(&settings).unwrap()).unwrap();
        assert_eq!(round_trip, settings);
        let typed: JobSettings = serde_json::from_value(json!({"services": ["Sales", "Support"]})).unwrap();
        assert_eq!(typed, settings, "the type's defaults are the ones the check fills in");
    }

    #[test]
    fn every_bad_field_is_named_with_its_rule() {
        let errors = settings_from_body(&body(json!({
            "services": ["", 3],
            "key_prefix": "acme",
            "filename_template": "$(nope)",
            "interval_seconds": 5,
            "concurrency": "four",
            "bandwidth_limit_bytes_per_second": 10,
            "delete_local_after_export": "yes",
            "window": {"start": "25:00", "end": "06:00"},
        })))
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                ("services[0]", "service_name"),
                ("services[1]", "service_name"),
                ("key_prefix", "template"),
                ("interval_seconds", "range"),
                ("concurrency", "type"),
                ("bandwidth_limit_bytes_per_second", "range"),
                ("delete_local_after_export", "type"),
                ("window.start", "time"),
            ]
        );
        let missing = settings_from_body(&body(json!({"services": [], "filename_template": "$(nope)"}))).unwrap_err();
        assert_eq!(fields(&missing), [("services", "min_items"), ("filename_template", "template")]);
        assert!(missing[1].message.contains("$(nope)"), "{}", missing[1].message);
        let empty = settings_from_body(&body(json!({"services": ["S"], "window": {"start": "08:00", "end": "08:00"}})));
        assert_eq!(fields(&empty.unwrap_err()), [("window.end", "window_empty")]);
    }

    #[test]
    fn windows_may_span_midnight() {
        let day = Window {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        };
        assert!(contains(day, utc(8, 0)) && contains(day, utc(17, 59)));
        assert!(!contains(day, utc(18, 0)) && !contains(day, utc(7, 59)));
        assert_eq!(next_open(day, utc(12, 0)), utc(12, 0));
        assert_eq!(next_open(day, utc(6, 0)), utc(8, 0));
        assert_eq!(next_open(day, utc(19, 0)), utc(8, 0) + Duration::days(1));

        let night = Window {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
        };
        assert!(contains(night, utc(23, 0)) && contains(night, utc(2, 0)));
        assert!(!contains(night, utc(6, 0)) && !contains(night, utc(12, 0)));
        assert_eq!(next_open(night, utc(12, 0)), utc(22, 0));
    }

    #[test]
    fn the_next_run_is_an_interval_later_within_the_window() {
        let mut settings = settings_from_body(&body(json!({"services": ["S"], "interval_seconds": 3600}))).unwrap();
        assert_eq!(settings.next_run(utc(10, 0)), utc(11, 0));
        settings.window = Some(Window {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
        });
        assert_eq!(settings.next_run(utc(5, 30)), utc(22, 0), "06:30 is outside: wait for 22:00");
        assert_eq!(settings.next_run(utc(23, 0)), utc(0, 0) + Duration::days(1));
        assert!(!settings.may_export_at(utc(12, 0)));
    }
}
