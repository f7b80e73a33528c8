//! Whether a JSON value, as the metadata documents hold it, fits a DICOM value representation
//! (PS3.5 §6.2: value type, length, character repertoire, format); and the date (DA) and time
//! (TM) forms callers may give, where an ISO `YYYY-MM-DD` date is accepted and converted.

use base64::Engine as _;
use dicom_core::VR;
use serde_json::Value;

use super::vr::is_text;

/// At most this many characters of a refused value are echoed in a message.
const SHOWN: usize = 64;

/// `s` for an error message: cut to a short prefix.
pub fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("'{}…' ({} characters)", &s[..i], s.chars().count()),
        None => format!("'{s}'"),
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A DA value from DICOM `YYYYMMDD` or ISO `YYYY-MM-DD`: the `YYYYMMDD` form, and whether it
/// was converted from ISO.
pub fn date(s: &str) -> Result<(String, bool), String> {
    let b = s.as_bytes();
    let (dicom, iso) = if b.len() == 8 && digits(s) {
        (s.to_string(), false)
    } else if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(&s[..4])
        && digits(&s[5..7])
        && digits(&s[8..])
    {
        (format!("{}{}{}", &s[..4], &s[5..7], &s[8..]), true)
    } else {
        return Err(format!(
            "{} is not a date: give YYYYMMDD or YYYY-MM-DD",
            shown(s)
        ));
    };
    let n = |r: std::ops::Range<usize>| dicom[r].parse::<u32>().expect("digits");
    let valid = time::Month::try_from(n(4..6) as u8)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(n(0..4) as i32, m, n(6..8) as u8).ok())
        .is_some();
    if !valid {
        return Err(format!("{} is not a calendar date", shown(s)));
    }
    Ok((dicom, iso))
}

/// A TM value: `HHMMSS` with an optional fraction of 1 to 6 digits.
pub fn time(s: &str) -> Result<(), String> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, "0"));
    let ok = hms.len() == 6
        && digits(hms)
        && digits(frac)
        && frac.len() <= 6
        && hms[..2] < *"24"
        && hms[2..4] < *"60"
        && hms[4..] <= *"60"; // 60: a leap second, as DICOM allows
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a time: give HHMMSS or HHMMSS.ffffff",
            shown(s)
        ))
    }
}

/// A TM value as DICOM allows it: `HH`, `HHMM` or `HHMMSS`, with an optional fraction after
/// the seconds (what this server accepts as input is the stricter [`time`]).
fn dicom_time(s: &str) -> Result<(), String> {
    let t = s.trim_end();
    match t.len() {
        2 | 4 if digits(t) => time(&format!("{t:0<6}")),
        _ => time(t),
    }
}

/// Maximum characters of one value, where the VR has a limit.
fn max_chars(vr: VR) -> Option<usize> {
    Some(match vr {
        VR::AE | VR::CS | VR::DS | VR::SH => 16,
        VR::AS => 4,
        VR::DA => 8,
        VR::DT => 26,
        VR::IS => 12,
        VR::LO | VR::UI => 64,
        VR::LT => 10240,
        VR::ST => 1024,
        VR::TM => 14,
        _ => return None,
    })
}

fn text(vr: VR, s: &str) -> Result<(), String> {
    let long_text = matches!(vr, VR::LT | VR::ST | VR::UT);
    // Backslash separates values; control characters other than ESC (character set
    // switching) are allowed only in the long-text VRs (line breaks, tabs, form feeds).
    if !long_text && vr != VR::UR && s.contains('\\') {
        return Err("contains a backslash, which separates values".into());
    }
    let ctrl_ok = |c: char| c == '\x1b' || (long_text && matches!(c, '\r' | '\n' | '\t' | '\x0c'));
    if s.chars().any(|c| c.is_control() && !ctrl_ok(c)) {
        return Err("contains a control character".into());
    }
    match vr {
        VR::DA => {
            return match date(s)? {
                (_, false) => Ok(()),
                (_, true) => Err(format!("{} is ISO; DA is YYYYMMDD", shown(s))),
            }
        }
        VR::TM => return dicom_time(s),
        _ => {}
    }
    if let Some(max) = max_chars(vr) {
        let n = s.chars().count();
        if n > max {
            return Err(format!("is {n} characters; {vr:?} allows at most {max}"));
        }
    }
    let t = s.trim();
    let fits = match vr {
        VR::CS => s
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'_'),
        VR::UI => s.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        VR::AS => {
            s.len() == 4
                && s.is_ascii()
                && digits(&s[..3])
                && matches!(s.as_bytes()[3], b'D' | b'W' | b'M' | b'Y')
        }
        VR::DS => {
            t.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
                && t.parse::<f64>().is_ok_and(f64::is_finite)
        }
        VR::IS => t.parse::<i64>().is_ok_and(|n| i32::try_from(n).is_ok()),
        VR::DT => {
            let (main, offset) = match t.find(['+', '-']) {
                Some(i) => (&t[..i], Some(&t[i + 1..])),
                None => (t, None),
            };
            let (whole, frac) = main.split_once('.').unwrap_or((main, "0"));
            digits(whole)
                && [4, 6, 8, 10, 12, 14].contains(&whole.len())
                && digits(frac)
                && frac.len() <= 6
                && offset.is_none_or(|o| o.len() == 4 && digits(o))
        }
        VR::PN => {
            let groups: Vec<&str> = s.split('=').collect();
            if groups.len() > 3 || groups.iter().any(|g| g.chars().count() > 64) {
                return Err(
                    "is not a person name: at most 3 '='-separated groups of 64 characters".into(),
                );
            }
            groups.iter().all(|g| g.matches('^').count() <= 4)
        }
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("{} is not a valid {vr:?} value", shown(s)))
    }
}

fn number(vr: VR, v: &Value) -> Result<(), String> {
    let range: Option<(i128, i128)> = match vr {
        VR::US => Some((0, u16::MAX.into())),
        VR::SS => Some((i16::MIN.into(), i16::MAX.into())),
        VR::UL => Some((0, u32::MAX.into())),
        VR::SL => Some((i32::MIN.into(), i32::MAX.into())),
        VR::UV => Some((0, u64::MAX.into())),
        VR::SV => Some((i64::MIN.into(), i64::MAX.into())),
        _ => None, // FL, FD
    };
    let fits = match (v, range) {
        (Value::Number(n), Some((lo, hi))) => {
            let n = n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from));
            n.is_some_and(|n| (lo..=hi).contains(&n))
        }
        (Value::Number(n), None) => n.as_f64().is_some_and(f64::is_finite),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("must be a number that fits {vr:?}"))
    }
}

/// One value (not a list) of `vr`.
fn single(vr: VR, v: &Value) -> Result<(), String> {
    match vr {
        _ if is_text(vr) => match v {
            Value::String(s) => text(vr, s),
            _ => Err(format!("must be text ({vr:?})")),
        },
        VR::US | VR::SS | VR::UL | VR::SL | VR::UV | VR::SV | VR::FL | VR::FD => number(vr, v),
        VR::AT => match v {
            Value::String(s) if s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
            _ => Err("must be a tag such as \"00100010\"".into()),
        },
        VR::SQ => Err("is a sequence: give a list of items (objects)".into()),
        // OB, OW, OD, OF, OL, OV, UN: base64 of the bytes
        _ => match v {
            Value::String(s) if base64::engine::general_purpose::STANDARD.decode(s).is_ok() => {
                Ok(())
            }
            _ => Err(format!("must be base64 ({vr:?})")),
        },
    }
}

/// Whether `v` fits `vr`: an empty value (`null`), one value, or a list of values (a sequence
/// is a list of objects). Multiplicity is the caller's concern.
pub fn check(vr: VR, v: &Value) -> Result<(), String> {
    match (vr, v) {
        (_, Value::Null) => Ok(()),
        (VR::SQ, Value::Array(items)) if items.iter().all(|i| i.is_object() || i.is_null()) => {
            Ok(())
        }
        (VR::SQ, _) => Err("is a sequence: give a list of items (objects)".into()),
        (_, Value::Array(values)) => values
            .iter()
            .filter(|x| !x.is_null())
            .try_for_each(|x| single(vr, x)),
        _ => single(vr, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates() {
        assert_eq!(date("20240601"), Ok(("20240601".into(), false)));
        assert_eq!(date("2024-06-01"), Ok(("20240601".into(), true)));
        assert_eq!(date("2024-02-29"), Ok(("20240229".into(), true)));
        for bad in [
            "2024/06/01",
            "01.06.2024",
            "2024-6-1",
            "240601",
            "20240631",
            "2023-02-29",
            "20241301",
            "",
            "2024-06-01T00:00:00",
            "२०२४०६०१",
        ] {
            assert!(date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times() {
        for good in ["101500", "000000", "235959.999999", "101500.1", "235960"] {
            assert!(time(good).is_ok(), "{good}");
        }
        assert!(dicom_time("1015").is_ok() && dicom_time("10").is_ok());
        assert!(dicom_time("2415").is_err() && dicom_time("10:15").is_err());
        for bad in [
            "10:15:00",
            "1015",
            "10",
            "240000",
            "106000",
            "101500.",
            "101500.1234567",
            "",
            "10150a",
        ] {
            assert!(time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_by_vr() {
        let ok = [
            (VR::PN, json!("DOE^JANE")),
            (VR::PN, json!("Yamada^Tarou=山田^太郎")),
            (VR::LO, json!("x".repeat(64))),
            (VR::CS, json!("F")),
            (VR::DA, json!("19700101")),
            (VR::TM, json!("101500.5")),
            (VR::DS, json!("72.5")),
            (VR::IS, json!(" 7 ")),
            (VR::AS, json!("054Y")),
            (VR::UI, json!("1.2.840.10008.1")),
            (VR::US, json!(512)),
            (VR::FD, json!(1.5)),
            (VR::LT, json!("line one\r\nline two")),
            (VR::UT, json!("x".repeat(40_000))),
            (VR::DT, json!("20240601101500.5+0100")),
            (VR::SQ, json!([{"CodeValue": "1"}])),
            (VR::LO, json!(["A", "B"])),
            (VR::LO, Value::Null),
        ];
        for (vr, v) in ok {
            assert_eq!(check(vr, &v), Ok(()), "{vr:?} {v}");
        }
        let bad = [
            (VR::PN, json!({"Alphabetic": "DOE^JANE"})),
            (VR::PN, json!("x".repeat(65))),
            (VR::LO, json!("x".repeat(65))),
            (VR::LO, json!("A\\B")),
            (VR::LO, json!("line\nbreak")),
            (VR::LT, json!("x".repeat(10_241))),
            (VR::SH, json!("x".repeat(17))),
            (VR::CS, json!("female")),
            (VR::DA, json!("2024-06-01")),
            (VR::DA, json!("20240631")),
            (VR::TM, json!("10:15")),
            (VR::DS, json!("seventy")),
            (VR::DS, json!(72.5)),
            (VR::IS, json!("3000000000")),
            (VR::AS, json!("54Y")),
            (VR::UI, json!("1.2.abc")),
            (VR::US, json!(70_000)),
            (VR::US, json!("512")),
            (VR::SQ, json!("x")),
            (VR::LO, json!(["A", 1])),
        ];
        for (vr, v) in bad {
            assert!(check(vr, &v).is_err(), "{vr:?} {v}");
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let err = check(VR::LO, &json!("y".repeat(40_000))).unwrap_err();
        assert!(err.len() < 200, "{err}");
        let err = date(&"9".repeat(1000)).unwrap_err();
        assert!(err.len() < 200 && err.contains("1000 characters"), "{err}");
    }
}
