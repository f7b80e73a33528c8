//! PS3.15 Table E.1-1 as data (`basic_profile.tsv`), parsed once, and the action it gives an
//! attribute under a set of options. No attribute has its own code path: every rule is a row.

use std::collections::HashMap;
use std::sync::OnceLock;

use dicom_core::Tag;
use schemars::JsonSchema;
use serde::Serialize;

use super::Options;

pub(super) const TABLE: &str = include_str!("basic_profile.tsv");

/// An action code as the standard's table writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// D: replace with a dummy value valid for the VR.
    D,
    /// Z: replace with a zero length value (or a dummy one).
    Z,
    /// X: remove.
    X,
    /// K: keep.
    K,
    /// C: clean (replace with values of similar meaning known not to identify).
    C,
    /// U: replace the UID with another, consistently within the data.
    U,
    /// Z/D: Z unless D is needed for the IOD (Type 2 versus Type 1).
    ZD,
    /// X/Z: X unless Z is needed (Type 3 versus Type 2).
    XZ,
    /// X/D: X unless D is needed (Type 3 versus Type 1).
    XD,
    /// X/Z/D: X unless Z or D is needed.
    XZD,
    /// X/Z/U*: X unless Z, or the UIDs inside replaced, is needed (references to instances).
    XZU,
}

impl Code {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "D" => Self::D,
            "Z" => Self::Z,
            "X" => Self::X,
            "K" => Self::K,
            "C" => Self::C,
            "U" => Self::U,
            "Z/D" => Self::ZD,
            "X/Z" => Self::XZ,
            "X/D" => Self::XD,
            "X/Z/D" => Self::XZD,
            "X/Z/U*" => Self::XZU,
            _ => return None,
        })
    }

    /// What is done. Without the IOD's tables at hand, a choice between actions takes the one
    /// that keeps the file conformant whatever the attribute's Type (D over Z over X, and the
    /// references kept with their UIDs remapped): none of them leaves the original value.
    /// C (clean) has no generic implementation; it removes (options' C: see `Rule::action`).
    fn action(self) -> Action {
        match self {
            Self::D | Self::ZD | Self::XD | Self::XZD => Action::Dummy,
            Self::Z | Self::XZ => Action::Empty,
            Self::X | Self::C => Action::Remove,
            Self::K => Action::Keep,
            Self::U | Self::XZU => Action::Remap,
        }
    }
}

/// What happens to an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Left as it is (not in the table, or retained by an option).
    Keep,
    /// Removed.
    Remove,
    /// Kept with a zero length value (a sequence with no items).
    Empty,
    /// Replaced with a dummy value valid for its VR (a sequence's items are de-identified).
    Dummy,
    /// UIDs replaced through the job's UID map (a sequence's items are de-identified).
    Remap,
}

/// The tags a row applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagPattern {
    Exact(Tag),
    /// A repeating group: the group's high byte fixed (0x50 curves, 0x60 overlays), the
    /// element fixed or any.
    Repeating {
        group_high: u8,
        element: Option<u16>,
    },
    /// Every attribute of an odd group.
    Private,
}

impl TagPattern {
    fn parse(text: &str) -> Option<Self> {
        if text == "private" {
            return Some(Self::Private);
        }
        let inner = text.strip_prefix('(')?.strip_suffix(')')?;
        let (group, element) = inner.split_once(',')?;
        if group.len() != 4 || element.len() != 4 {
            return None;
        }
        if let Some(high) = group.strip_suffix("xx") {
            let element = match element {
                "xxxx" => None,
                e => Some(u16::from_str_radix(e, 16).ok()?),
            };
            return Some(Self::Repeating {
                group_high: u8::from_str_radix(high, 16).ok()?,
                element,
            });
        }
        Some(Self::Exact(Tag(
            u16::from_str_radix(group, 16).ok()?,
            u16::from_str_radix(element, 16).ok()?,
        )))
    }

    pub fn matches(self, tag: Tag) -> bool {
        match self {
            Self::Exact(t) => t == tag,
            // Repeating groups are the even groups of the 0xgg00-0xggFF range.
            Self::Repeating {
                group_high,
                element,
            } => {
                (tag.0 >> 8) as u8 == group_high
                    && tag.0.is_multiple_of(2)
                    && element.is_none_or(|e| e == tag.1)
            }
            Self::Private => !tag.0.is_multiple_of(2),
        }
    }
}

/// One row of Table E.1-1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub pattern: TagPattern,
    pub name: &'static str,
    pub basic: Code,
    pub retain_dates: Option<Code>,
    pub retain_patient: Option<Code>,
    pub retain_device: Option<Code>,
}

impl Rule {
    /// The action under `opts`: an option that is on and says K keeps the attribute. An
    /// option's C (clean: free text such as Allergies, AE titles) has no generic
    /// implementation, so the basic profile's action stands for it.
    pub fn action(&self, opts: &Options) -> Action {
        let retained = [
            (opts.retain_longitudinal_dates, self.retain_dates),
            (opts.retain_patient_characteristics, self.retain_patient),
            (opts.retain_device_identity, self.retain_device),
        ]
        .into_iter()
        .any(|(on, code)| on && code == Some(Code::K));
        if retained {
            Action::Keep
        } else {
            self.basic.action()
        }
    }
}

struct Profile {
    rules: Vec<Rule>,
    exact: HashMap<Tag, usize>,
    patterns: Vec<usize>,
}

pub(super) fn parse_table(text: &'static str) -> Result<Vec<Rule>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    match lines.next() {
        Some((_, "tag\tbasic\tretain_dates\tretain_patient\tretain_device\tname")) => {}
        other => return Err(format!("unexpected header {other:?}")),
    }
    let option = |text: &str| -> Result<Option<Code>, String> {
        match text {
            "-" => Ok(None),
            code => Code::parse(code)
                .map(Some)
                .ok_or_else(|| format!("bad option action {code:?}")),
        }
    };
    lines
        .map(|(n, line)| {
            let at = |e: String| format!("basic_profile.tsv line {}: {e}", n + 1);
            let cols: Vec<&'static str> = line.split('\t').collect();
            let [tag, basic, dates, patient, device, name] = cols[..] else {
                return Err(at(format!("{} columns, want 6", cols.len())));
            };
            Ok(Rule {
                pattern: TagPattern::parse(tag).ok_or_else(|| at(format!("bad tag {tag:?}")))?,
                name,
                basic: Code::parse(basic).ok_or_else(|| at(format!("bad action {basic:?}")))?,
                retain_dates: option(dates).map_err(at)?,
                retain_patient: option(patient).map_err(at)?,
                retain_device: option(device).map_err(at)?,
            })
        })
        .collect()
}

fn profile() -> &'static Profile {
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    PROFILE.get_or_init(|| {
        // The table is compiled in; `tests::table_parses_with_every_row` keeps it well formed.
        let rules = parse_table(TABLE).expect("basic_profile.tsv is well formed");
        let mut exact = HashMap::new();
        let mut patterns = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match rule.pattern {
                TagPattern::Exact(tag) => {
                    exact.insert(tag, i);
                }
                _ => patterns.push(i),
            }
        }
        Profile {
            rules,
            exact,
            patterns,
        }
    })
}

/// Every row of the table, in tag order.
pub fn rules() -> &'static [Rule] {
    &profile().rules
}

/// The row that governs `tag`, if any.
pub fn rule_for(tag: Tag) -> Option<&'static Rule> {
    let p = profile();
    p.exact
        .get(&tag)
        .or_else(|| {
            p.patterns
                .iter()
                .find(|&&i| p.rules[i].pattern.matches(tag))
        })
        .map(|&i| &p.rules[i])
}

/// What the profile does to `tag` under `opts`.
pub fn action_for(tag: Tag, opts: &Options) -> Action {
    rule_for(tag).map_or(Action::Keep, |r| r.action(opts))
}

/// The single tags the profile removes or changes under `opts`, with the action, in tag order
/// (the repeating groups and private attributes, which are patterns, are in `rules()`): what a
/// check of a de-identified file goes through.
pub fn identifying_tags(opts: &Options) -> Vec<(Tag, Action)> {
    rules()
        .iter()
        .filter_map(|r| match r.pattern {
            TagPattern::Exact(tag) => Some((tag, r.action(opts))),
            _ => None,
        })
        .filter(|(_, a)| *a != Action::Keep)
        .collect()
}
