//! The metadata CSV of an export run: a header, then one row per recording with its export
//! status (`success` or `failed`), object key, the failure when there is one, and the
//! recording's metadata. RFC 4180: comma separated, CRLF line ends, a field in double
//! quotes when it holds a comma, a quote, CR or LF, or starts or ends with a space, with
//! quotes doubled. Values are written as they are (a phone number keeps its leading `+`).

use std::io::{self, Write};

use crate::template::RecordingMeta;

/// The columns, in order.
pub const COLUMNS: &[&str] = &[
    "status",
    "object_key",
    "error",
    "recording_id",
    "global_interaction_id",
    "call_started_at",
    "agent_login",
    "agent_first_name",
    "agent_last_name",
    "customer_phone",
    "direction",
    "service",
    "disposition",
    "flagged",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    Success,
    Failed,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Success => "success",
            ExportStatus::Failed => "failed",
        }
    }
}

/// Writes the metadata CSV of one run to `out`.
pub struct MetadataCsv<W: Write> {
    out: W,
}

impl<W: Write> MetadataCsv<W> {
    /// Starts the file with the header row.
    pub fn new(mut out: W) -> io::Result<MetadataCsv<W>> {
        write_record(&mut out, COLUMNS.iter().copied())?;
        Ok(MetadataCsv { out })
    }

    /// One recording's row; `error` says why a failed export failed.
    pub fn row(
        &mut self,
        meta: &RecordingMeta,
        key: &str,
        status: ExportStatus,
        error: Option<&str>,
    ) -> io::Result<()> {
        let started = meta.call_started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let flagged = if meta.flagged { "true" } else { "false" };
        write_record(
            &mut self.out,
            [
                status.as_str(),
                key,
                error.unwrap_or_default(),
                &meta.recording_id,
                &meta.global_interaction_id,
                &started,
                &meta.agent_login,
                &meta.agent_first_name,
                &meta.agent_last_name,
                &meta.customer_phone,
                &meta.direction,
                &meta.service,
                &meta.disposition,
                flagged,
            ],
        )
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_record<'a>(out: &mut impl Write, fields: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let quote = field.contains([',', '"', '\r', '\n']) || field.starts_with(' ') || field.ends_with(' ');
        if quote {
            write!(out, "\"{}\"", field.replace('"', "\"\""))?;
        } else {
            out.write_all(field.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn meta() -> RecordingMeta {
        RecordingMeta {
            recording_id: "r1".to_owned(),
            global_interaction_id: "GI-1".to_owned(),
            call_started_at: DateTime::parse_from_rfc3339("2024-05-01T14:05:09Z").unwrap().with_timezone(&Utc),
            agent_login: "jsmith".to_owned(),
            agent_first_name: "John \"Johnny\"".to_owned(),
            agent_last_name: "Smith, Jr.".to_owned(),
            customer_phone: "+15550102030".to_owned(),
            direction: "inbound".to_owned(),
            service: "Sales\nEU".to_owned(),
            disposition: " padded".to_owned(),
            flagged: false,
        }
    }

    #[test]
    fn rows_are_quoted_as_rfc_4180_says() {
        let mut csv = MetadataCsv::new(Vec::new()).unwrap();
        csv.row(&meta(), "calls/a_r1.wav", ExportStatus::Success, None).unwrap();
        csv.row(&meta(), "calls/a_r1.wav", ExportStatus::Failed, Some("the bucket `b` does not exist (NoSuchBucket)"))
            .unwrap();
        let text = String::from_utf8(csv.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        let fields = "r1,GI-1,2024-05-01T14:05:09Z,jsmith,\"John \"\"Johnny\"\"\",\"Smith, Jr.\",+15550102030,inbound,\"Sales\nEU\",\" padded\",false";
        assert_eq!(text.matches("\r\n").count(), 3, "header and two rows, CRLF ended: {text:?}");
        assert!(text.contains(&format!("success,calls/a_r1.wav,,{fields}\r\n")), "{text:?}");
        assert!(
            text.contains(&format!("failed,calls/a_r1.wav,the bucket `b` does not exist (NoSuchBucket),{fields}\r\n"))
        );
    }
}
