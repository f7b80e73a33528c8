//! How the values of each DICOM value representation are held (PS3.5 §6.2): one table that the
//! JSON conversion and the value checks share.

use dicom_core::VR;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Text that may hold several values separated by backslashes (AE, CS, DA, LO, PN, UI, ...).
    Texts,
    /// Text holding one value, in which a backslash is an ordinary character (LT, ST, UT, UR).
    Text,
    /// Binary numbers (US, SS, UL, SL, UV, SV, FL, FD).
    Numbers,
    /// Bytes and other binary data (OB, OW, OD, OF, OL, OV, UN).
    Bytes,
    /// Attribute tags (AT).
    Tags,
    /// Sequences of items (SQ).
    Items,
}

pub fn form(vr: VR) -> Form {
    match vr {
        VR::AE
        | VR::AS
        | VR::CS
        | VR::DA
        | VR::DS
        | VR::DT
        | VR::IS
        | VR::LO
        | VR::PN
        | VR::SH
        | VR::TM
        | VR::UC
        | VR::UI => Form::Texts,
        VR::LT | VR::ST | VR::UT | VR::UR => Form::Text,
        VR::US | VR::SS | VR::UL | VR::SL | VR::UV | VR::SV | VR::FL | VR::FD => Form::Numbers,
        VR::OB | VR::OW | VR::OD | VR::OF | VR::OL | VR::OV | VR::UN => Form::Bytes,
        VR::AT => Form::Tags,
        VR::SQ => Form::Items,
    }
}

/// Whether `vr` values are text (a JSON string each).
pub fn is_text(vr: VR) -> bool {
    matches!(form(vr), Form::Texts | Form::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        assert_eq!(form(VR::PN), Form::Texts);
        assert_eq!(form(VR::UT), Form::Text);
        assert!(is_text(VR::UI) && is_text(VR::LT));
        assert!(!is_text(VR::US) && !is_text(VR::OB) && !is_text(VR::AT) && !is_text(VR::SQ));
        assert_eq!(form(VR::UN), Form::Bytes);
    }
}
