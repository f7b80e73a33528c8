//! Data store lifecycle: CREATING → ACTIVE, DELETING → DELETED (deletion refused while image sets
//! remain). Creation is idempotent on `clientToken`.

use std::collections::BTreeMap;

use super::{new_id, now, Datastore, DatastoreInfo, DatastoreStatus, Store};
use crate::local::error::{ApiError, ApiResult};

#[derive(Default)]
pub struct NewDatastore {
    pub name: Option<String>,
    pub client_token: String,
    pub kms_key_arn: Option<String>,
    pub lambda_authorizer_arn: Option<String>,
    pub lossless_storage_format: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("Datastore {id} does not exist"))
}

impl Store {
    /// Creates a data store (or returns the one created with the same client token), and tags
    /// it; `arn_of` names a data store by id. The answer's status is `info.status`: CREATING for
    /// a new one, as the service answers even when the transition is instant.
    pub fn create_datastore(
        &mut self,
        req: NewDatastore,
        arn_of: impl Fn(&str) -> String,
    ) -> &Datastore {
        let existing = self
            .datastores
            .values()
            .find(|d| d.info.client_token == req.client_token)
            .map(|d| d.info.id.clone());
        let id = match existing {
            Some(id) => {
                self.datastore_mut(&id); // settles it: the answer shows where it is now
                id
            }
            None => {
                let t = now();
                let id = new_id();
                let info = DatastoreInfo {
                    id: id.clone(),
                    name: req
                        .name
                        .unwrap_or_else(|| format!("datastore-{}", &id[..8])),
                    status: DatastoreStatus::Creating,
                    kms_key_arn: req.kms_key_arn,
                    lambda_authorizer_arn: req.lambda_authorizer_arn,
                    lossless_storage_format: req
                        .lossless_storage_format
                        .unwrap_or_else(|| "HTJ2K".into()),
                    created_at: t,
                    updated_at: t,
                    client_token: req.client_token,
                    settles_at: t + self.transition_delay,
                };
                self.datastores.insert(id.clone(), Datastore::new(info));
                self.changes.datastores.insert(id.clone());
                id
            }
        };
        if let Some(tags) = req.tags {
            self.tags_mut(&arn_of(&id)).extend(tags);
        }
        &self.datastores[&id]
    }

    /// Makes a data store ACTIVE at once (the seed store, whatever the transition delay).
    pub fn activate_now(&mut self, id: &str) -> ApiResult<()> {
        let ds = self.datastore_mut(id).ok_or_else(|| missing(id))?;
        if ds.info.status == DatastoreStatus::Creating {
            ds.info.status = DatastoreStatus::Active;
        }
        Ok(())
    }

    /// A data store that exists (any status, DELETED included).
    pub fn datastore(&self, id: &str) -> ApiResult<&Datastore> {
        self.datastores.get(id).ok_or_else(|| missing(id))
    }

    /// A data store that can hold and serve image sets (not deleted).
    pub fn live_datastore(&self, id: &str) -> ApiResult<&Datastore> {
        match self.datastores.get(id) {
            Some(ds) if ds.is_live() => Ok(ds),
            _ => Err(missing(id)),
        }
    }

    /// The same, for a write.
    pub fn live_datastore_mut(&mut self, id: &str) -> ApiResult<&mut Datastore> {
        if !self.datastores.get(id).is_some_and(Datastore::is_live) {
            return Err(missing(id));
        }
        self.datastore_mut(id).ok_or_else(|| missing(id))
    }

    /// Data stores in creation order, optionally filtered by status.
    pub fn list_datastores(&self, status: Option<DatastoreStatus>) -> Vec<&Datastore> {
        let mut out: Vec<&Datastore> = self
            .datastores
            .values()
            .filter(|d| status.is_none_or(|s| d.status() == s))
            .collect();
        out.sort_by(|a, b| {
            a.info
                .created_at
                .total_cmp(&b.info.created_at)
                .then(a.info.id.cmp(&b.info.id))
        });
        out
    }

    pub fn delete_datastore(&mut self, id: &str) -> ApiResult<&Datastore> {
        let delay = self.transition_delay;
        let ds = self.live_datastore_mut(id)?;
        if ds.info.status != DatastoreStatus::Active {
            return Err(ApiError::conflict(format!(
                "Datastore {id} is {} and cannot be deleted",
                ds.info.status
            )));
        }
        if !ds.image_sets.is_empty() {
            return Err(ApiError::conflict(format!(
                "Datastore {id} still contains {} image set(s); delete them before deleting the datastore",
                ds.image_sets.len()
            )));
        }
        let t = now();
        ds.info.status = DatastoreStatus::Deleting;
        ds.info.updated_at = t;
        ds.info.settles_at = t + delay;
        Ok(ds)
    }
}
