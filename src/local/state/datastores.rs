//! Data store lifecycle: CREATING → ACTIVE, DELETING → DELETED (deletion refused while image sets
//! remain). Creation is idempotent on `clientToken`.

use std::collections::BTreeMap;

use super::{new_id, now, Datastore, Store};
use crate::local::error::{ApiError, ApiResult};

pub struct NewDatastore {
    pub name: Option<String>,
    pub client_token: String,
    pub kms_key_arn: Option<String>,
    pub lambda_authorizer_arn: Option<String>,
    pub lossless_storage_format: Option<String>,
}

impl Store {
    /// Moves CREATING / DELETING data stores whose transition time has passed.
    fn settle(&mut self) {
        let t = now();
        for ds in self.datastores.values_mut() {
            if t >= ds.settles_at {
                match ds.status.as_str() {
                    "CREATING" => ds.status = "ACTIVE".into(),
                    "DELETING" => ds.status = "DELETED".into(),
                    _ => continue,
                }
                ds.updated_at = ds.settles_at.max(ds.updated_at);
            }
        }
    }

    pub fn create_datastore(&mut self, req: NewDatastore) -> ApiResult<&Datastore> {
        self.settle();
        if let Some(existing) = self
            .datastores
            .values()
            .find(|d| d.client_token == req.client_token)
        {
            let id = existing.id.clone();
            return Ok(&self.datastores[&id]);
        }
        let t = now();
        let id = new_id();
        let ds = Datastore {
            id: id.clone(),
            name: req
                .name
                .unwrap_or_else(|| format!("datastore-{}", &id[..8])),
            status: "CREATING".into(),
            kms_key_arn: req.kms_key_arn,
            lambda_authorizer_arn: req.lambda_authorizer_arn,
            lossless_storage_format: req
                .lossless_storage_format
                .unwrap_or_else(|| "HTJ2K".into()),
            created_at: t,
            updated_at: t,
            client_token: req.client_token,
            settles_at: t + self.transition_delay,
            image_sets: BTreeMap::new(),
            jobs: BTreeMap::new(),
        };
        self.datastores.insert(id.clone(), ds);
        Ok(&self.datastores[&id])
    }

    /// A data store that exists (any status, DELETED included).
    pub fn datastore(&mut self, id: &str) -> ApiResult<&Datastore> {
        self.settle();
        self.datastores
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("Datastore {id} does not exist")))
    }

    /// A data store that can hold and serve image sets (not deleted).
    pub fn live_datastore_mut(&mut self, id: &str) -> ApiResult<&mut Datastore> {
        self.settle();
        match self.datastores.get_mut(id) {
            Some(ds) if ds.status != "DELETED" && ds.status != "DELETING" => Ok(ds),
            _ => Err(ApiError::not_found(format!(
                "Datastore {id} does not exist"
            ))),
        }
    }

    pub fn live_datastore(&mut self, id: &str) -> ApiResult<&Datastore> {
        self.live_datastore_mut(id).map(|d| &*d)
    }

    /// Data stores in creation order, optionally filtered by status.
    pub fn list_datastores(&mut self, status: Option<&str>) -> Vec<Datastore> {
        self.settle();
        let mut out: Vec<Datastore> = self
            .datastores
            .values()
            .filter(|d| status.is_none_or(|s| d.status == s))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then(a.id.cmp(&b.id)));
        out
    }

    pub fn delete_datastore(&mut self, id: &str) -> ApiResult<&Datastore> {
        let delay = self.transition_delay;
        let ds = self.live_datastore_mut(id)?;
        if ds.status != "ACTIVE" {
            return Err(ApiError::conflict(format!(
                "Datastore {id} is {} and cannot be deleted",
                ds.status
            )));
        }
        if !ds.image_sets.is_empty() {
            return Err(ApiError::conflict(format!(
                "Datastore {id} still contains {} image set(s); delete them before deleting the datastore",
                ds.image_sets.len()
            )));
        }
        let t = now();
        ds.status = "DELETING".into();
        ds.updated_at = t;
        ds.settles_at = t + delay;
        Ok(ds)
    }
}
