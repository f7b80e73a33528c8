//! Data store operations: create_datastore, get_datastore, list_datastores, delete_datastore.

use std::collections::HashMap;

use aws_sdk_medicalimaging::types::{
    DatastoreProperties, DatastoreStatus, DatastoreSummary, LosslessStorageFormat,
};
use serde_json::{json, Value};

use super::convert::{name, Obj};
use super::error::{from_sdk, EngineResult};
use super::validate;
use super::{client, Page};
use crate::model::constraints::{self, Shape};

fn properties(p: &DatastoreProperties) -> Value {
    Obj::new()
        .put("datastore_id", p.datastore_id())
        .put("datastore_name", p.datastore_name())
        .put("datastore_status", p.datastore_status().as_str())
        .opt("datastore_arn", p.datastore_arn())
        .opt("kms_key_arn", p.kms_key_arn())
        .opt("lambda_authorizer_arn", p.lambda_authorizer_arn())
        .opt("lossless_storage_format", name(p.lossless_storage_format()))
        .time("created_at", p.created_at())
        .time("updated_at", p.updated_at())
        .done()
}

fn summary(s: &DatastoreSummary) -> Value {
    Obj::new()
        .put("datastore_id", s.datastore_id())
        .put("datastore_name", s.datastore_name())
        .put("datastore_status", s.datastore_status().as_str())
        .opt("datastore_arn", s.datastore_arn())
        .time("created_at", s.created_at())
        .time("updated_at", s.updated_at())
        .done()
}

pub struct NewDatastore {
    pub datastore_name: String,
    pub kms_key_arn: Option<String>,
    pub tags: Option<HashMap<String, String>>,
    pub lossless_storage_format: Option<String>,
    pub lambda_authorizer_arn: Option<String>,
    pub client_token: Option<String>,
}

pub async fn create_datastore(req: NewDatastore) -> EngineResult<Value> {
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
    Ok(json!({
        "datastore_id": out.datastore_id(),
        "datastore_status": out.datastore_status().as_str(),
    }))
}

pub async fn get_datastore(datastore_id: String) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    let out = client()
        .await
        .get_datastore()
        .datastore_id(&datastore_id)
        .send()
        .await
        .map_err(|e| from_sdk("GetDatastore", e))?;
    Ok(json!({"datastore_properties": out.datastore_properties().map(properties)}))
}

pub async fn list_datastores(status: Option<String>, page: Page) -> EngineResult<Value> {
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
    Ok(Obj::new()
        .put(
            "datastore_summaries",
            out.datastore_summaries()
                .iter()
                .map(summary)
                .collect::<Vec<_>>(),
        )
        .opt("next_token", out.next_token())
        .done())
}

pub async fn delete_datastore(datastore_id: String) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    let out = client()
        .await
        .delete_datastore()
        .datastore_id(&datastore_id)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteDatastore", e))?;
    Ok(json!({
        "datastore_id": out.datastore_id(),
        "datastore_status": out.datastore_status().as_str(),
    }))
}
