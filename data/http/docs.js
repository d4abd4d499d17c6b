// GET /docs: renders /api/v1/openapi.json as a page; DOM nodes only, nothing from elsewhere.
"use strict";

const METHODS = ["get", "put", "post", "patch", "delete", "options", "head", "trace"];
const MAX_DEPTH = 6;

// An element with attributes and children (nodes, or strings as text).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    node.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

// The little Markdown the descriptions use: `code`, **bold**, paragraphs.
function inline(text) {
  const parts = [];
  const pattern = /(`[^`]+`|\*\*[^*]+\*\*)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parts.push(text.slice(last, match.index));
    const token = match[0];
    parts.push(token.startsWith("`") ? el("code", {}, token.slice(1, -1))
                                     : el("strong", {}, token.slice(2, -2)));
    last = match.index + token.length;
  }
  parts.push(text.slice(last));
  return parts;
}

function prose(text) {
  if (!text) {
    return null;
  }
  return text.split(/\n\s*\n/).map((paragraph) => el("p", {}, inline(paragraph.trim())));
}

function refName(ref) {
  return ref.split("/").pop();
}

// A "#/components/…" reference inside the document, followed.
function resolve(doc, item) {
  let seen = 0;
  while (item && item.$ref && seen++ < 10) {
    item = item.$ref.slice(2).split("/").reduce((node, key) => node && node[key], doc);
  }
  return item || {};
}

function facts(schema) {
  const out = [];
  const names = ["format", "pattern", "minimum", "maximum", "minLength", "maxLength",
                 "contentMediaType"];
  for (const name of names) {
    if (schema[name] !== undefined) {
      out.push(`${name} ${schema[name]}`);
    }
  }
  if (schema.default !== undefined) {
    out.push(`default ${JSON.stringify(schema.default)}`);
  }
  if (schema.enum) {
    out.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  }
  if (schema.const !== undefined) {
    out.push(`always ${JSON.stringify(schema.const)}`);
  }
  return out;
}

function typeOf(schema) {
  if (schema.$ref) {
    const name = refName(schema.$ref);
    return el("a", { href: `#schema-${name}` }, name);
  }
  if (schema.type === "array") {
    return el("span", {}, "array of ", typeOf(schema.items || {}));
  }
  let type = Array.isArray(schema.type) ? schema.type.join(" or ") : schema.type;
  if (!type) {
    // A part of an allOf says only what it adds.
    const composed = schema.allOf || schema.oneOf || schema.anyOf;
    type = schema.properties ? "object" : schema.enum || schema.const ? "value"
                                        : composed ? "" : "any";
  }
  return el("span", { class: "type" }, type);
}

function properties(schema, depth) {
  const required = new Set(schema.required || []);
  return el("ul", { class: "schema" }, Object.entries(schema.properties).map(([name, prop]) =>
    el("li", {}, el("code", {}, name), " ",
       required.has(name) ? el("span", { class: "required" }, "required ") : null,
       describe(prop, depth + 1))));
}

// One schema as a line of facts, with its properties or alternatives below.
function describe(schema, depth = 0) {
  schema = schema || {};
  const node = el("span", {}, typeOf(schema));
  const extra = facts(schema);
  if (extra.length) {
    node.append(el("span", { class: "type" }, ` (${extra.join("; ")})`));
  }
  if (schema.description) {
    node.append(" — ", ...inline(schema.description));
  }
  if (depth >= MAX_DEPTH || schema.$ref) {
    return node;
  }
  if (schema.properties) {
    node.append(properties(schema, depth));
  }
  if (schema.type === "array" && schema.items && schema.items.properties) {
    node.append(properties(schema.items, depth));
  }
  for (const word of ["oneOf", "anyOf", "allOf"]) {
    if (schema[word]) {
      const label = { oneOf: "one of:", anyOf: "any of:", allOf: "all of:" }[word];
      node.append(el("div", {}, label), el("ul", { class: "schema" },
        schema[word].map((part) => el("li", {}, describe(part, depth + 1)))));
    }
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
    node.append(el("div", {}, "each other field: ",
                   describe(schema.additionalProperties, depth + 1)));
  }
  return node;
}

function parametersTable(doc, parameters) {
  if (!parameters || !parameters.length) {
    return null;
  }
  const rows = parameters.map((item) => resolve(doc, item)).map((p) =>
    el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
       el("td", {}, p.required ? "yes" : "no"),
       el("td", {}, describe(p.schema), p.description ? el("div", {}, inline(p.description))
                                                      : null)));
  return [el("h4", {}, "Parameters"),
          el("table", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "In"),
                             el("th", {}, "Required"), el("th", {}, "Schema")), rows)];
}

function contentList(content) {
  return Object.entries(content || {}).map(([type, media]) =>
    el("div", {}, el("code", {}, type), " ", describe(media.schema)));
}

function requestBody(doc, body) {
  if (!body) {
    return null;
  }
  body = resolve(doc, body);
  return [el("h4", {}, body.required ? "Request body (required)" : "Request body (optional)"),
          prose(body.description), contentList(body.content)];
}

function responseHeaders(doc, headers) {
  return Object.entries(headers || {}).map(([name, header]) =>
    el("div", {}, "Header ", el("code", {}, name), ": ",
       inline(resolve(doc, header).description || "")));
}

function responsesTable(doc, responses) {
  const rows = Object.entries(responses || {}).map(([status, item]) => {
    const response = resolve(doc, item);
    return el("tr", {}, el("td", {}, el("strong", {}, status)),
              el("td", {}, inline(response.description || ""),
                 responseHeaders(doc, response.headers), contentList(response.content),
                 extensions(response)));
  });
  return [el("h4", {}, "Responses"),
          el("table", {}, el("tr", {}, el("th", {}, "Status"), el("th", {}, "Meaning")), rows)];
}

// x-smartrag-events (server-sent events) and x-smartrag-websocket (messages).
function extensions(item) {
  const parts = [];
  if (item["x-smartrag-events"]) {
    parts.push(el("div", {}, "Events:"), el("ul", { class: "schema" },
      Object.entries(item["x-smartrag-events"]).map(([name, schema]) =>
        el("li", {}, el("code", {}, `event: ${name}`), " data: ", describe(schema)))));
  }
  if (item["x-smartrag-websocket"]) {
    const ws = item["x-smartrag-websocket"];
    parts.push(el("h4", {}, "WebSocket messages"),
               el("div", {}, "From the client: ", describe(ws.client)),
               el("div", {}, "From the server: ", describe(ws.server)));
  }
  return parts;
}

function operationSection(doc, path, method, operation) {
  const id = `op-${operation.operationId || method + path}`;
  const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
  return el("section", { class: "operation", id },
    el("h3", {}, el("span", { class: `method ${method}` }, method),
       el("span", { class: "path" }, path),
       isPublic ? el("span", { class: "badge" }, "no identity needed") : null),
    el("p", {}, el("strong", {}, operation.summary || "")),
    prose(operation.description),
    parametersTable(doc, operation.parameters),
    requestBody(doc, operation.requestBody),
    responsesTable(doc, operation.responses),
    extensions(operation));
}

// Operations grouped by their first tag, in the order the document lists its tags.
function groups(doc) {
  const byTag = new Map((doc.tags || []).map((tag) => [tag.name, []]));
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS.filter((m) => item[m])) {
      const tag = (item[method].tags || ["other"])[0];
      if (!byTag.has(tag)) {
        byTag.set(tag, []);
      }
      byTag.get(tag).push({ path, method, operation: item[method] });
    }
  }
  return byTag;
}

function overview(doc) {
  const servers = (doc.servers || []).map((server) =>
    el("li", {}, el("code", {}, server.url), " — ", inline(server.description || "")));
  const schemes = Object.entries((doc.components || {}).securitySchemes || {}).map(
    ([name, scheme]) => el("li", {}, el("code", {}, name), ` (${scheme.type} ${scheme.scheme ||
      ""}) — `, inline(scheme.description || "")));
  return el("section", { id: "overview" }, prose(doc.info.description),
            el("h2", {}, "Servers"), el("ul", {}, servers),
            el("h2", {}, "Security"), el("ul", {}, schemes));
}

function schemasSection(doc) {
  const schemas = (doc.components || {}).schemas || {};
  return el("section", { id: "schemas" }, el("h2", {}, "Schemas"),
    Object.entries(schemas).map(([name, schema]) =>
      el("div", { id: `schema-${name}`, class: "operation" }, el("h3", {}, name),
         describe(schema))));
}

function tableOfContents(byTag) {
  const nav = document.getElementById("toc");
  for (const [tag, operations] of byTag) {
    if (!operations.length) {
      continue;
    }
    nav.append(el("h2", {}, tag), el("ul", {}, operations.map(({ path, method, operation }) =>
      el("li", {}, el("a", { href: `#op-${operation.operationId || method + path}` },
                      `${method.toUpperCase()} ${path}`)))));
  }
  nav.append(el("h2", {}, "schemas"), el("ul", {}, el("li", {}, el("a", { href: "#schemas" },
                                                                   "All schemas"))));
}

function render(doc) {
  document.title = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("summary").replaceChildren(...inline(doc.info.summary || ""),
    " OpenAPI ", doc.openapi, ": ", el("a", { href: "/api/v1/openapi.json" },
                                       "/api/v1/openapi.json"));
  const byTag = groups(doc);
  const main = document.getElementById("content");
  main.replaceChildren(overview(doc));
  for (const [tag, operations] of byTag) {
    const description = ((doc.tags || []).find((t) => t.name === tag) || {}).description;
    main.append(el("section", { id: `tag-${tag}` }, el("h2", {}, tag), prose(description),
                   operations.map(({ path, method, operation }) =>
                     operationSection(doc, path, method, operation))));
  }
  main.append(schemasSection(doc));
  tableOfContents(byTag);
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) {
      target.scrollIntoView();
    }
  }
}

function fail(error) {
  document.getElementById("status").textContent =
    `Cannot load /api/v1/openapi.json: ${error.message}`;
}

document.addEventListener("DOMContentLoaded", () => {
  fetch("/api/v1/openapi.json", { headers: { Accept: "application/json" } })
    .then((reply) => {
      if (!reply.ok) {
        throw new Error(`HTTP ${reply.status}`);
      }
      return reply.json();
    })
    .then(render)
    .catch(fail);
});
