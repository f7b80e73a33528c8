//! The tool registry: every MCP tool declared once, as a name, a description, hints, a
//! toolset, an input type, an output type and a handler. The MCP server, the notebook API
//! (`awslabs.healthimaging_mcp_server.engine`) and its stub are generated from it; this is
//! the only place that knows MCP-facing shapes. Adding a tool means adding one entry (and its
//! input type) to the module of its toolset.

pub mod api;
mod arguments;
pub mod deadline;
pub mod dicomweb;
pub mod export;
pub mod instructions;
pub mod jobs;
pub mod pixels;
pub mod schema;
pub mod workflows;

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::dicom::values::shown;
use crate::engine::{EngineError, EngineResult, ErrorType};
use crate::workflows::writes::Progress;

/// A group of tools a server can be limited to (`--toolsets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Toolset {
    /// One tool per HealthImaging API operation.
    Api,
    /// Patient, study and series work over many image sets.
    Workflows,
    /// Images a model can see: rendered frames, contact sheets, compact summaries.
    Pixels,
    /// HealthImaging's DICOMweb APIs: QIDO-RS, WADO-RS, STOW-RS.
    Dicomweb,
    /// DICOM export jobs (the original's three export tools), optionally de-identified.
    Export,
    /// Following and cancelling every job: exports, and workflows that outlived their deadline.
    Jobs,
}

impl Toolset {
    pub const ALL: [Toolset; 6] = [
        Toolset::Api,
        Toolset::Workflows,
        Toolset::Pixels,
        Toolset::Dicomweb,
        Toolset::Export,
        Toolset::Jobs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Workflows => "workflows",
            Self::Pixels => "pixels",
            Self::Dicomweb => "dicomweb",
            Self::Export => "export",
            Self::Jobs => "jobs",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// MCP tool annotations: what a client may assume about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
}

/// Reads: no side effects, so repeating one is harmless.
pub const READ: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
};
/// Writes that only add (a new data store, a new version, a copy).
pub const WRITE: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: false,
};
/// Writes that only add, where repeating one changes nothing more.
pub const WRITE_IDEMPOTENT: Hints = Hints {
    idempotent: true,
    ..WRITE
};
/// Writes that remove or overwrite.
pub const DESTRUCTIVE: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: false,
};
/// Writes that remove, where repeating one removes nothing more.
pub const DESTRUCTIVE_IDEMPOTENT: Hints = Hints {
    idempotent: true,
    ..DESTRUCTIVE
};

/// What a handler gets besides its input.
#[derive(Clone, Default)]
pub struct Ctx {
    /// Where a long run reports `(done, total, message)`; only tools declared with progress
    /// get one.
    pub progress: Option<Progress>,
}

/// One image a tool answers besides its JSON (an MCP image content block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedImage {
    /// `image/png` or `image/jpeg`.
    pub mime_type: &'static str,
    pub data: Vec<u8>,
}

/// A tool's answer: its output as compact JSON, and the images of a tool declared with
/// [`Tool::with_images`] (empty for every other tool).
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub json: String,
    pub images: Vec<EncodedImage>,
}

type Output = Pin<Box<dyn Future<Output = EngineResult<String>> + Send>>;
/// The answer of a call, images included.
pub type AnswerFuture = Pin<Box<dyn Future<Output = EngineResult<Answer>> + Send>>;
type Run = Box<dyn Fn(Value, Ctx) -> AnswerFuture + Send + Sync>;

pub struct Tool {
    pub name: &'static str,
    pub description: Cow<'static, str>,
    pub toolset: Toolset,
    pub hints: Hints,
    /// Long-running: reports progress (and is worth cancelling).
    pub progress: bool,
    pub input_schema: Value,
    /// `None` while the output type is untyped JSON.
    pub output_schema: Option<Value>,
    /// Answers images (MCP image content) after its JSON.
    pub images: bool,
    run: Run,
}

impl Tool {
    /// A tool whose handler takes the deserialized input `I` and answers an `O`, serialized
    /// once to compact JSON.
    pub fn new<I, O, F, Fut>(
        toolset: Toolset,
        name: &'static str,
        description: impl Into<Cow<'static, str>>,
        hints: Hints,
        handler: F,
    ) -> Self
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = EngineResult<O>> + Send + 'static,
    {
        let mut tool = Self::with_images::<I, O, _, _>(
            toolset,
            name,
            description,
            hints,
            move |input, ctx| {
                let work = handler(input, ctx);
                async move { work.await.map(|out| (out, Vec::new())) }
            },
        );
        tool.images = false;
        tool
    }

    /// A tool whose handler answers an `O` and images: MCP clients get the JSON text block,
    /// then one image content block per image (structured content is the `O`).
    pub fn with_images<I, O, F, Fut>(
        toolset: Toolset,
        name: &'static str,
        description: impl Into<Cow<'static, str>>,
        hints: Hints,
        handler: F,
    ) -> Self
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = EngineResult<(O, Vec<EncodedImage>)>> + Send + 'static,
    {
        let run: Run = Box::new(move |args, ctx| match serde_json::from_value::<I>(args) {
            Ok(input) => {
                let work = handler(input, ctx);
                Box::pin(async move {
                    let (out, images) = work.await?;
                    let json = serde_json::to_string(&out).map_err(|e| {
                        EngineError::server(format!("{name}: result not serializable: {e}"))
                    })?;
                    Ok(Answer { json, images })
                })
            }
            // The schema check passed, so this is a deeper mismatch (a map value, ...).
            Err(e) => Box::pin(std::future::ready(Err(arguments::invalid(
                name,
                &[e.to_string()],
            )))),
        });
        Self {
            name,
            description: description.into(),
            toolset,
            hints,
            progress: false,
            input_schema: schema::input::<I>(),
            output_schema: schema::output::<O>(),
            images: true,
            run,
        }
    }

    /// This tool reports progress.
    pub fn with_progress(mut self) -> Self {
        self.progress = true;
        self
    }

    /// The tool as MCP `tools/list` describes it, plus `toolset` and `progress`.
    pub fn describe(&self) -> Value {
        let mut out = json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": {
                "readOnlyHint": self.hints.read_only,
                "destructiveHint": self.hints.destructive,
                "idempotentHint": self.hints.idempotent,
                "openWorldHint": true,
            },
            "toolset": self.toolset.as_str(),
            "progress": self.progress,
            "images": self.images,
        });
        if let Some(schema) = &self.output_schema {
            out["outputSchema"] = schema.clone();
        }
        out
    }

    /// Checks `arguments` against the input schema and runs the handler; the result is the
    /// output as compact JSON (images, if any, are dropped: see [`Tool::answer`]).
    pub fn call(&self, arguments: Value, ctx: Ctx) -> Output {
        let answer = self.answer(arguments, ctx);
        Box::pin(async move { answer.await.map(|a| a.json) })
    }

    /// [`Tool::call`] with the images.
    pub fn answer(&self, arguments: Value, ctx: Ctx) -> AnswerFuture {
        match arguments::check(self.name, &self.input_schema, arguments) {
            Ok(args) => {
                let ctx = if self.progress { ctx } else { Ctx::default() };
                (self.run)(args, ctx)
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}

pub struct Registry {
    tools: Vec<Tool>,
    by_name: HashMap<&'static str, usize>,
}

impl Registry {
    fn new(tools: Vec<Tool>) -> Self {
        let by_name = tools.iter().enumerate().map(|(i, t)| (t.name, i)).collect();
        Self { tools, by_name }
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.by_name.get(name).map(|i| &self.tools[*i])
    }
}

/// Every tool, in the order `tools/list` shows them (built once).
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut tools = api::tools();
        tools.extend(workflows::tools());
        tools.extend(pixels::tools());
        tools.extend(dicomweb::tools());
        tools.extend(export::tools());
        tools.extend(jobs::tools());
        Registry::new(tools)
    })
}

/// The tool called `name`, or the validation error a client gets for a name it made up.
pub fn find(name: &str) -> EngineResult<&'static Tool> {
    registry().get(name).ok_or_else(|| {
        EngineError::new(
            ErrorType::Validation,
            format!("Unknown tool: {}", shown(name)),
        )
    })
}

/// Calls tool `name` with `arguments` (JSON text, as an MCP client sent them): the name and
/// the arguments are checked now, the work runs when the returned future is polled.
pub fn call(name: &str, arguments: &str, ctx: Ctx) -> Output {
    let answer = call_answer(name, arguments, ctx);
    Box::pin(async move { answer.await.map(|a| a.json) })
}

/// [`call`] with the images of a tool that answers some.
pub fn call_answer(name: &str, arguments: &str, ctx: Ctx) -> AnswerFuture {
    let checked = find(name).and_then(|tool| {
        let args: Value = serde_json::from_str(arguments)
            .map_err(|e| arguments::invalid(name, &[format!("arguments are not JSON ({e})")]))?;
        Ok((tool, args))
    });
    match checked {
        Ok((tool, args)) => tool.answer(args, ctx),
        Err(e) => Box::pin(std::future::ready(Err(e))),
    }
}

#[cfg(test)]
mod tests;
