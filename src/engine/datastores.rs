//! Data store operations: create_datastore, get_datastore, list_datastores, delete_datastore.

use std::collections::HashMap;

use aws_sdk_medicalimaging::types::{
    DatastoreProperties, DatastoreStatus, DatastoreSummary, LosslessStorageFormat,
};
use schemars::JsonSchema;
use serde::Serialize;

use super::convert::{Named, Timestamp};
use super::error::{from_sdk, EngineError, EngineResult};
use super::validate;
use super::{client, Page};
use crate::model::constraints::{self, Shape};

/// A data store's properties (GetDatastore).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatastoreDetails {
    pub datastore_id: String,
    pub datastore_name: String,
    pub datastore_status: Named<DatastoreStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_authorizer_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lossless_storage_format: Option<Named<LosslessStorageFormat>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

impl From<&DatastoreProperties> for DatastoreDetails {
    fn from(p: &DatastoreProperties) -> Self {
        Self {
            datastore_id: p.datastore_id().into(),
            datastore_name: p.datastore_name().into(),
            datastore_status: Named::of(p.datastore_status()),
            datastore_arn: p.datastore_arn().map(Into::into),
            kms_key_arn: p.kms_key_arn().map(Into::into),
            lambda_authorizer_arn: p.lambda_authorizer_arn().map(Into::into),
            lossless_storage_format: Named::opt(p.lossless_storage_format()),
            created_at: Timestamp::opt(p.created_at()),
            updated_at: Timestamp::opt(p.updated_at()),
        }
    }
}

/// GetDatastore's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatastoreInfo {
    pub datastore_properties: DatastoreDetails,
}

/// One data store of a listing.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatastoreItem {
    pub datastore_id: String,
    pub datastore_name: String,
    pub datastore_status: Named<DatastoreStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

impl From<&DatastoreSummary> for DatastoreItem {
    fn from(s: &DatastoreSummary) -> Self {
        Self {
            datastore_id: s.datastore_id().into(),
            datastore_name: s.datastore_name().into(),
            datastore_status: Named::of(s.datastore_status()),
            datastore_arn: s.datastore_arn().map(Into::into),
            created_at: Timestamp::opt(s.created_at()),
            updated_at: Timestamp::opt(s.updated_at()),
        }
    }
}

/// ListDatastores' answer: one page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatastoreList {
    pub datastore_summaries: Vec<DatastoreItem>,
    /// For the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// CreateDatastore's and DeleteDatastore's answer: the data store and its new status.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatastoreChange {
    pub datastore_id: String,
    pub datastore_status: Named<DatastoreStatus>,
}

pub struct NewDatastore {
    pub datastore_name: String,
    pub kms_key_arn: Option<String>,
    pub tags: Option<HashMap<String, String>>,
    pub lossless_storage_format: Option<String>,
    pub lambda_authorizer_arn: Option<String>,
    pub client_token: Option<String>,
}

pub async fn create_datastore(req: NewDatastore) -> EngineResult<DatastoreChange> {
    validate::shape("datastore_name", &req.datastore_name, Shape::DatastoreName)?;
    validate::opt_shape("kms_key_arn", req.kms_key_arn.as_deref(), Shape::KmsKeyArn)?;
    validate::opt_shape(
        "lambda_authorizer_arn",
        req.lambda_authorizer_arn.as_deref(),
        Shape::LambdaArn,
    )?;
    validate::opt_shape(
        "client_token",
        req.client_token.as_deref(),
        Shape::ClientToken,
    )?;
    validate::one_of(
        "lossless_storage_format",
        req.lossless_storage_format.as_deref(),
        constraints::LOSSLESS_STORAGE_FORMAT,
    )?;
    if let Some(tags) = &req.tags {
        super::tags::check_tags("tags", tags)?;
    }
    let out = client()
        .await
        .create_datastore()
        .datastore_name(&req.datastore_name)
        .set_kms_key_arn(req.kms_key_arn)
        .set_tags(req.tags)
        .set_lossless_storage_format(
            req.lossless_storage_format
                .as_deref()
                .map(LosslessStorageFormat::from),
        )
        .set_lambda_authorizer_arn(req.lambda_authorizer_arn)
        .set_client_token(req.client_token)
        .send()
        .await
        .map_err(|e| from_sdk("CreateDatastore", e))?;
    Ok(DatastoreChange {
        datastore_id: out.datastore_id().into(),
        datastore_status: Named::of(out.datastore_status()),
    })
}

pub async fn get_datastore(datastore_id: String) -> EngineResult<DatastoreInfo> {
    validate::id("datastore_id", &datastore_id)?;
    let out = client()
        .await
        .get_datastore()
        .datastore_id(&datastore_id)
        .send()
        .await
        .map_err(|e| from_sdk("GetDatastore", e))?;
    // A required member of the service's answer.
    let props = out
        .datastore_properties()
        .ok_or_else(|| EngineError::server("GetDatastore answered without datastore properties"))?;
    Ok(DatastoreInfo {
        datastore_properties: props.into(),
    })
}

pub async fn list_datastores(status: Option<String>, page: Page) -> EngineResult<DatastoreList> {
    validate::one_of(
        "datastore_status",
        status.as_deref(),
        constraints::DATASTORE_STATUS,
    )?;
    let max = page.check()?;
    let out = client()
        .await
        .list_datastores()
        .set_datastore_status(status.as_deref().map(DatastoreStatus::from))
        .set_max_results(max)
        .set_next_token(page.next_token)
        .send()
        .await
        .map_err(|e| from_sdk("ListDatastores", e))?;
    Ok(DatastoreList {
        datastore_summaries: out.datastore_summaries().iter().map(Into::into).collect(),
        next_token: out.next_token().map(Into::into),
    })
}

pub async fn delete_datastore(datastore_id: String) -> EngineResult<DatastoreChange> {
    validate::id("datastore_id", &datastore_id)?;
    let out = client()
        .await
        .delete_datastore()
        .datastore_id(&datastore_id)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteDatastore", e))?;
    Ok(DatastoreChange {
        datastore_id: out.datastore_id().into(),
        datastore_status: Named::of(out.datastore_status()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::testing::{properties, required};
    use aws_sdk_medicalimaging::primitives::DateTime;
    use serde_json::json;

    #[test]
    fn datastore_outputs_keep_their_json() {
        let p = DatastoreProperties::builder()
            .datastore_id("d".repeat(32))
            .datastore_name("ds")
            .datastore_status(DatastoreStatus::Active)
            .datastore_arn("arn:x")
            .created_at(DateTime::from_secs(1_700_000_000))
            .build()
            .unwrap();
        let info = DatastoreInfo {
            datastore_properties: (&p).into(),
        };
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            json!({"datastore_properties": {
                "datastore_id": "d".repeat(32), "datastore_name": "ds",
                "datastore_status": "ACTIVE", "datastore_arn": "arn:x",
                "created_at": "2023-11-14T22:13:20.000Z"}})
        );
        let list = DatastoreList {
            datastore_summaries: vec![],
            next_token: None,
        };
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"datastore_summaries": []})
        );
    }

    #[test]
    fn datastore_schemas_mark_required_fields() {
        assert_eq!(
            required::<DatastoreInfo>(Some("DatastoreDetails")),
            ["datastore_id", "datastore_name", "datastore_status"]
        );
        assert_eq!(
            properties::<DatastoreInfo>(Some("DatastoreDetails")).len(),
            9
        );
        assert_eq!(required::<DatastoreList>(None), ["datastore_summaries"]);
        assert_eq!(
            required::<DatastoreList>(Some("DatastoreItem")),
            ["datastore_id", "datastore_name", "datastore_status"]
        );
        assert_eq!(
            required::<DatastoreChange>(None),
            ["datastore_id", "datastore_status"]
        );
    }
}
