//! The `/docs` page: the OpenAPI document rendered on the server as plain HTML.
//! Written here rather than using Swagger UI or Redoc because those crates fetch their
//! JavaScript from a CDN or download it at build time; this page has no script at all
//! and its one stylesheet is served by finlink.

use askama::Template;
use serde_json::Value;

pub const CSS: &str = include_str!("../../assets/docs.css");

struct Param {
    name: String,
    location: String,
    required: bool,
    description: String,
}

struct Resp {
    status: String,
    schema: String,
}

struct Op {
    method: String,
    path: String,
    anchor: String,
    summary: String,
    description: String,
    params: Vec<Param>,
    body: String,
    responses: Vec<Resp>,
}

struct Section {
    name: String,
    description: String,
    ops: Vec<Op>,
}

struct SchemaDoc {
    name: String,
    fields: Vec<(String, String, bool, String)>,
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    title: String,
    version: String,
    description: String,
    sections: Vec<Section>,
    schemas: Vec<SchemaDoc>,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn schema_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(items) = v.get("items") {
        return format!("[{}]", schema_name(items));
    }
    if let Some(any) = v.get("oneOf").and_then(Value::as_array) {
        let names: Vec<String> = any
            .iter()
            .map(schema_name)
            .filter(|n| n != "null")
            .collect();
        return names.join(" | ");
    }
    match v.get("type") {
        Some(Value::String(t)) => {
            let fmt = v
                .get("format")
                .and_then(Value::as_str)
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            format!("{t}{fmt}")
        }
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" | "),
        _ => String::from("object"),
    }
}

pub fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let v = serde_json::to_value(doc).unwrap_or(Value::Null);
    let mut sections: Vec<Section> = v["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| Section {
                    name: s(&t["name"]),
                    description: s(&t["description"]),
                    ops: Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(paths) = v["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let params = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| Param {
                                name: s(&p["name"]),
                                location: s(&p["in"]),
                                required: p["required"].as_bool().unwrap_or(false),
                                description: s(&p["description"]),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let body = op["requestBody"]["content"]["application/json"]["schema"].clone();
                let responses = op["responses"]
                    .as_object()
                    .map(|rs| {
                        rs.iter()
                            .map(|(code, r)| Resp {
                                status: code.clone(),
                                schema: r["content"]["application/json"]["schema"]
                                    .as_object()
                                    .map(|_| {
                                        schema_name(&r["content"]["application/json"]["schema"])
                                    })
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let tag = op["tags"][0].as_str().unwrap_or("Other").to_owned();
                let entry = Op {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    anchor: s(&op["operationId"]),
                    summary: s(&op["summary"]),
                    description: s(&op["description"]),
                    params,
                    body: if body.is_null() {
                        String::new()
                    } else {
                        schema_name(&body)
                    },
                    responses,
                };
                match sections.iter_mut().find(|x| x.name == tag) {
                    Some(sec) => sec.ops.push(entry),
                    None => sections.push(Section {
                        name: tag,
                        description: String::new(),
                        ops: vec![entry],
                    }),
                }
            }
        }
    }
    sections.retain(|s| !s.ops.is_empty());
    let schemas = v["components"]["schemas"]
        .as_object()
        .map(|all| {
            all.iter()
                .map(|(name, sch)| {
                    let required: Vec<&str> = sch["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let fields = sch["properties"]
                        .as_object()
                        .map(|props| {
                            props
                                .iter()
                                .map(|(f, p)| {
                                    (
                                        f.clone(),
                                        schema_name(p),
                                        required.contains(&f.as_str()),
                                        s(&p["description"]),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    SchemaDoc {
                        name: name.clone(),
                        fields,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let page = DocsPage {
        title: s(&v["info"]["title"]),
        version: s(&v["info"]["version"]),
        description: s(&v["info"]["description"]),
        sections,
        schemas,
    };
    page.render().unwrap_or_else(|e| format!("<!doctype html><title>finlink API</title><p>The docs page could not be rendered: {e}. The document is at /openapi.json."))
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_every_path() {
        let doc = crate::openapi();
        let html = super::render(&doc);
        assert!(html.contains("/companies/{companyId}/connections"));
        assert!(html.contains("ErrorMessage"));
        assert!(!html.contains("<script"));
    }
}
