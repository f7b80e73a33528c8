//! Input constraints from the service model (`medical-imaging` 2023-07-19): patterns, lengths and
//! ranges. Each check names the member and the rule in AWS's own message format.

use std::sync::OnceLock;

use regex::Regex;

use super::error::{ApiError, ApiResult};

macro_rules! pattern {
    ($name:ident, $re:expr) => {
        fn $name() -> &'static Regex {
            static RE: OnceLock<Regex> = OnceLock::new();
            RE.get_or_init(|| Regex::new(concat!("^(?:", $re, ")$")).expect("valid pattern"))
        }
    };
}

pattern!(id_re, "[0-9a-z]{32}");
pattern!(job_id_re, "[0-9a-z]{1,32}");
pattern!(version_re, "[0-9]+");
pattern!(name_re, "[A-Za-z0-9._/#-]+");
pattern!(client_token_re, "[A-Za-z0-9._-]+");
pattern!(s3_uri_re, r"s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?");
pattern!(role_arn_re, r"arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+");
pattern!(
    kms_arn_re,
    r"arn:aws[a-zA-Z-]{0,16}:kms:[a-z]{2}(-[a-z]{1,16}){1,3}-\d{1}:\d{12}:((key/[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})|(alias/[a-zA-Z0-9:/_-]{1,256}))"
);
pattern!(
    lambda_arn_re,
    r"arn:aws[a-zA-Z-]{0,16}:lambda:[a-z]{2}(-[a-z]{1,16}){1,3}-\d{1}:\d{12}:function:[a-zA-Z0-9\-_\.]+(:(\$LATEST|[a-zA-Z0-9\-_]+))?"
);
pattern!(
    arn_re,
    r"arn:aws((-us-gov)|(-iso)|(-iso-b)|(-cn))?:medical-imaging:[a-z0-9-]+:[0-9]{12}:datastore/[0-9a-z]{32}(/imageset/[0-9a-z]{32})?"
);
pattern!(account_re, "[0-9]{12}");
pattern!(tag_key_re, r"[a-zA-Z+\-=._:/]+");
pattern!(uid_re, "[0-9.]*");

fn check(member: &str, value: &str, re: &Regex, shown: &str) -> ApiResult<()> {
    if re.is_match(value) {
        Ok(())
    } else {
        Err(ApiError::constraint(
            member,
            value,
            &format!("Member must satisfy regular expression pattern: {shown}"),
        ))
    }
}

fn length(member: &str, value: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ApiError::constraint(
            member,
            value,
            &format!("Member must have length between {min} and {max}, inclusive"),
        ));
    }
    Ok(())
}

pub fn resource_id(member: &str, value: &str) -> ApiResult<()> {
    check(member, value, id_re(), "[0-9a-z]{32}")
}

pub fn job_id(value: &str) -> ApiResult<()> {
    check("jobId", value, job_id_re(), "[0-9a-z]+")
}

pub fn version_id(member: &str, value: &str) -> ApiResult<()> {
    check(member, value, version_re(), "\\d+")
}

pub fn datastore_name(value: &str) -> ApiResult<()> {
    length("datastoreName", value, 1, 256)?;
    check("datastoreName", value, name_re(), "[A-Za-z0-9._/#-]+")
}

pub fn job_name(value: &str) -> ApiResult<()> {
    length("jobName", value, 1, 64)?;
    check("jobName", value, name_re(), "[A-Za-z0-9._/#-]+")
}

pub fn client_token(value: &str) -> ApiResult<()> {
    length("clientToken", value, 1, 64)?;
    check("clientToken", value, client_token_re(), "[A-Za-z0-9._-]+")
}

pub fn s3_uri(member: &str, value: &str) -> ApiResult<()> {
    length(member, value, 1, 1024)?;
    check(
        member,
        value,
        s3_uri_re(),
        "s3://[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9](/.*)?",
    )
}

pub fn role_arn(value: &str) -> ApiResult<()> {
    length("dataAccessRoleArn", value, 20, 2048)?;
    check(
        "dataAccessRoleArn",
        value,
        role_arn_re(),
        "arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+",
    )
}

pub fn kms_key_arn(value: &str) -> ApiResult<()> {
    length("kmsKeyArn", value, 1, 512)?;
    check(
        "kmsKeyArn",
        value,
        kms_arn_re(),
        "arn:aws...:kms:<region>:<account>:(key/<uuid>|alias/<name>)",
    )
}

pub fn lambda_arn(value: &str) -> ApiResult<()> {
    check(
        "lambdaAuthorizerArn",
        value,
        lambda_arn_re(),
        "arn:aws...:lambda:<region>:<account>:function:<name>(:<qualifier>)?",
    )
}

pub fn resource_arn(value: &str) -> ApiResult<()> {
    check(
        "resourceArn",
        value,
        arn_re(),
        "arn:aws:medical-imaging:<region>:<account>:datastore/[0-9a-z]{32}(/imageset/[0-9a-z]{32})?",
    )
}

pub fn account_id(value: &str) -> ApiResult<()> {
    length("inputOwnerAccountId", value, 12, 12)?;
    check("inputOwnerAccountId", value, account_re(), "\\d+")
}

pub fn tag_key(member: &str, value: &str) -> ApiResult<()> {
    length(member, value, 1, 128)?;
    if value.starts_with("aws:") {
        return Err(ApiError::constraint(
            member,
            value,
            "Member must satisfy regular expression pattern: (?!aws:)[a-zA-Z+-=._:/]+",
        ));
    }
    check(member, value, tag_key_re(), "(?!aws:)[a-zA-Z+-=._:/]+")
}

pub fn tag_value(member: &str, value: &str) -> ApiResult<()> {
    length(member, value, 0, 256)
}

pub fn dicom_uid(member: &str, value: &str) -> ApiResult<()> {
    length(member, value, 0, 512)?;
    check(member, value, uid_re(), "[0-9.]*")
}

/// `maxResults` on every list/search: integer 1..=50.
pub fn max_results(raw: Option<&str>) -> ApiResult<Option<usize>> {
    let Some(raw) = raw else { return Ok(None) };
    let n: i64 = raw
        .parse()
        .map_err(|_| ApiError::constraint("maxResults", raw, "Member must be an integer"))?;
    if !(1..=50).contains(&n) {
        return Err(ApiError::constraint(
            "maxResults",
            raw,
            "Member must have value between 1 and 50, inclusive",
        ));
    }
    Ok(Some(n as usize))
}

pub fn enum_value(member: &str, value: &str, allowed: &[&str]) -> ApiResult<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::constraint(
            member,
            value,
            &format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        ))
    }
}

pub fn required<'a, T>(member: &str, value: Option<&'a T>) -> ApiResult<&'a T>
where
    T: ?Sized,
{
    value.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ranges() {
        assert!(resource_id("datastoreId", &"a".repeat(32)).is_ok());
        assert!(resource_id("datastoreId", &"A".repeat(32)).is_err());
        assert!(resource_id("datastoreId", "abc").is_err());
        assert_eq!(max_results(Some("50")).unwrap(), Some(50));
        assert!(max_results(Some("51")).is_err());
        assert!(max_results(Some("0")).is_err());
        assert!(max_results(Some("x")).is_err());
        assert!(s3_uri("inputS3Uri", "s3://bucket/prefix/").is_ok());
        assert!(s3_uri("inputS3Uri", "https://bucket/").is_err());
        assert!(role_arn("arn:aws:iam::123456789012:role/ImportRole").is_ok());
        assert!(role_arn("arn:aws:iam::1234:role/x").is_err());
        assert!(tag_key("tags", "aws:reserved").is_err());
        assert!(resource_arn(&format!(
            "arn:aws:medical-imaging:us-east-1:123456789012:datastore/{}",
            "0".repeat(32)
        ))
        .is_ok());
    }

    #[test]
    fn message_names_member_and_rule() {
        let e = resource_id("imageSetId", "BAD").unwrap_err();
        assert!(e.message.contains("'imageSetId'"), "{}", e.message);
        assert!(e.message.contains("[0-9a-z]{32}"), "{}", e.message);
    }
}
