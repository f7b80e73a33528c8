//! Tags by resource ARN. The ARN must name an existing data store or image set.

use std::collections::BTreeMap;

use super::Store;
use crate::local::error::{ApiError, ApiResult, ErrorKind};

impl Store {
    /// Checks that `arn` (already pattern-validated) names a live resource.
    fn check_arn(&self, arn: &str) -> ApiResult<()> {
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
        let current = self.tags.get(arn);
        let added = tags
            .keys()
            .filter(|k| current.is_none_or(|c| !c.contains_key(*k)))
            .count();
        if current.map_or(0, BTreeMap::len) + added > 50 {
            return Err(ApiError::new(
                ErrorKind::ServiceQuotaExceeded,
                "A resource can have at most 50 tags",
            ));
        }
        self.tags_mut(arn).extend(tags);
        Ok(())
    }

    pub fn untag_resource(&mut self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.check_arn(arn)?;
        if self.tags.contains_key(arn) {
            let entry = self.tags_mut(arn);
            for k in keys {
                entry.remove(k);
            }
        }
        Ok(())
    }

    pub fn list_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        self.check_arn(arn)?;
        Ok(self.tags.get(arn).cloned().unwrap_or_default())
    }

    /// Forgets the tags of a removed resource.
    pub(super) fn drop_tags(&mut self, arn_suffix: &str) {
        let gone: Vec<String> = self
            .tags
            .keys()
            .filter(|arn| arn.ends_with(arn_suffix))
            .cloned()
            .collect();
        for arn in gone {
            self.tags.remove(&arn);
            self.changes.tags.insert(arn);
        }
    }
}
