//! Tags by resource ARN. The ARN must name an existing data store or image set.

use std::collections::BTreeMap;

use super::Store;
use crate::local::error::{ApiError, ApiResult};

impl Store {
    /// Checks that `arn` (already pattern-validated) names a live resource.
    fn check_arn(&mut self, arn: &str) -> ApiResult<()> {
        let tail = arn.split(":datastore/").nth(1).unwrap_or_default();
        let mut parts = tail.split("/imageset/");
        let ds_id = parts.next().unwrap_or_default();
        let ds = self
            .live_datastore(ds_id)
            .map_err(|_| ApiError::not_found(format!("Resource {arn} does not exist")))?;
        if let Some(is_id) = parts.next() {
            if !ds.image_sets.contains_key(is_id) {
                return Err(ApiError::not_found(format!(
                    "Resource {arn} does not exist"
                )));
            }
        }
        Ok(())
    }

    pub fn tag_resource(&mut self, arn: &str, tags: BTreeMap<String, String>) -> ApiResult<()> {
        self.check_arn(arn)?;
        let entry = self.tags.entry(arn.to_string()).or_default();
        if entry.len() + tags.keys().filter(|k| !entry.contains_key(*k)).count() > 50 {
            return Err(ApiError::new(
                crate::local::error::ErrorKind::ServiceQuotaExceeded,
                "A resource can have at most 50 tags",
            ));
        }
        entry.extend(tags);
        Ok(())
    }

    pub fn untag_resource(&mut self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.check_arn(arn)?;
        if let Some(entry) = self.tags.get_mut(arn) {
            for k in keys {
                entry.remove(k);
            }
        }
        Ok(())
    }

    pub fn list_tags(&mut self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        self.check_arn(arn)?;
        Ok(self.tags.get(arn).cloned().unwrap_or_default())
    }
}
