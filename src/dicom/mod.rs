pub mod decode;
pub mod json;
