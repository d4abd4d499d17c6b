#!/usr/bin/python3
"""Checks that an OpenAPI document is well-formed OpenAPI 3.1, with the standard library.

Not a full validator: it checks what a hand-written document gets wrong: the fixed
fields of each object, that every $ref resolves, that path templates and path
parameters agree, that every operation has responses with descriptions, unique
operation ids, known security schemes and tags, and JSON Schema keywords of the right
kind. Usage: check-openapi.py FILE; prints each problem and exits 1 if there is one.
"""

import json
import re
import sys

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PARAMETER_PLACES = {"query", "header", "path", "cookie"}
SCHEMA_TYPES = {"null", "boolean", "object", "array", "number", "string", "integer"}
STATUS = re.compile(r"^([1-5][0-9][0-9]|[1-5]XX|default)$")
TEMPLATE = re.compile(r"\{([^{}/]+)\}")
COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")

# The fixed fields of each object of OpenAPI 3.1 that this document may hold; "x-"
# extensions are allowed everywhere.
FIELDS = {
    "document": {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
                 "components", "security", "tags", "externalDocs"},
    "info": {"title", "summary", "description", "termsOfService", "contact", "license",
             "version"},
    "license": {"name", "identifier", "url"},
    "server": {"url", "description", "variables"},
    "server variable": {"enum", "default", "description"},
    "path item": {"$ref", "summary", "description", "servers", "parameters"} | METHODS,
    "operation": {"tags", "summary", "description", "externalDocs", "operationId",
                  "parameters", "requestBody", "responses", "callbacks", "deprecated",
                  "security", "servers"},
    "parameter": {"name", "in", "description", "required", "deprecated", "allowEmptyValue",
                  "style", "explode", "allowReserved", "schema", "example", "examples",
                  "content"},
    "request body": {"description", "content", "required"},
    "media type": {"schema", "example", "examples", "encoding"},
    "encoding": {"contentType", "headers", "style", "explode", "allowReserved"},
    "response": {"description", "headers", "content", "links"},
    "header": {"description", "required", "deprecated", "schema", "example", "examples",
               "content", "style", "explode"},
    "components": {"schemas", "responses", "parameters", "examples", "requestBodies",
                   "headers", "securitySchemes", "links", "callbacks", "pathItems"},
    "security scheme": {"type", "description", "name", "in", "scheme", "bearerFormat",
                        "flows", "openIdConnectUrl"},
    "tag": {"name", "description", "externalDocs"},
    "reference": {"$ref", "summary", "description"},
}


class Checker:
    def __init__(self, document):
        self.doc = document
        self.problems = []

    def problem(self, where, text):
        self.problems.append(f"{where}: {text}")

    # -- generic -------------------------------------------------------------------

    def fields(self, obj, kind, where, required=()):
        if not isinstance(obj, dict):
            self.problem(where, f"expected an object ({kind})")
            return False
        for name in obj:
            if name not in FIELDS[kind] and not name.startswith("x-"):
                self.problem(where, f"'{name}' is not a field of a {kind} object")
        for name in required:
            if name not in obj:
                self.problem(where, f"needs '{name}', which every {kind} object has")
        return True

    def string(self, obj, name, where):
        if name in obj and not isinstance(obj[name], str):
            self.problem(where, f"'{name}' must be a string")

    def lookup(self, ref):
        """The object a local reference points at, or None."""
        if not ref.startswith("#/"):
            return None
        node = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def resolve(self, obj, where):
        """@obj, or what its $ref points at; None when it does not resolve."""
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj:
            target = self.lookup(obj["$ref"])
            if target is None:
                self.problem(where, f"$ref {obj['$ref']} does not resolve")
                return None
            obj = target
            seen += 1
            if seen > 20:
                self.problem(where, "$ref loops")
                return None
        return obj

    def all_refs(self, node, where):
        """Every $ref anywhere resolves, schemas included."""
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and self.lookup(ref) is None:
                self.problem(where, f"$ref {ref} does not resolve")
            for key, value in node.items():
                self.all_refs(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self.all_refs(value, f"{where}/{i}")

    # -- the document --------------------------------------------------------------

    def check(self):
        doc = self.doc
        if not self.fields(doc, "document", "document", ("openapi", "info")):
            return self.problems
        if not re.fullmatch(r"3\.1\.\d+", str(doc.get("openapi", ""))):
            self.problem("openapi", f"expected 3.1.x, got {doc.get('openapi')!r}")
        if not any(k in doc for k in ("paths", "components", "webhooks")):
            self.problem("document", "needs paths, components or webhooks")
        self.info(doc.get("info", {}))
        for i, server in enumerate(doc.get("servers", [])):
            self.server(server, f"servers/{i}")
        self.components(doc.get("components", {}))
        self.security(doc.get("security", []), "security")
        tags = doc.get("tags", [])
        for i, tag in enumerate(tags):
            self.fields(tag, "tag", f"tags/{i}", ("name",))
        names = [t.get("name") for t in tags]
        if len(names) != len(set(names)):
            self.problem("tags", "a tag is declared twice")
        self.paths(doc.get("paths", {}), set(names))
        self.all_refs(doc, "#")
        return self.problems

    def info(self, info):
        if self.fields(info, "info", "info", ("title", "version")):
            for name in ("title", "version", "summary", "description"):
                self.string(info, name, "info")
            if "license" in info:
                self.fields(info["license"], "license", "info/license", ("name",))
                if "identifier" in info["license"] and "url" in info["license"]:
                    self.problem("info/license", "identifier and url exclude each other")

    def server(self, server, where):
        if not self.fields(server, "server", where, ("url",)):
            return
        variables = server.get("variables", {})
        for name in TEMPLATE.findall(server.get("url", "")):
            if name not in variables:
                self.problem(where, f"variable {{{name}}} of the url is not declared")
        for name, variable in variables.items():
            if self.fields(variable, "server variable", f"{where}/variables/{name}",
                           ("default",)):
                enum = variable.get("enum")
                if enum is not None and variable["default"] not in enum:
                    self.problem(where, f"default of {name} is not in its enum")

    def components(self, components):
        if not self.fields(components, "components", "components"):
            return
        for kind, entries in components.items():
            if kind.startswith("x-"):
                continue
            for name in entries:
                if not COMPONENT_NAME.match(name):
                    self.problem(f"components/{kind}", f"'{name}' is not a valid name")
        for name, scheme in components.get("securitySchemes", {}).items():
            self.security_scheme(scheme, f"components/securitySchemes/{name}")
        for name, schema in components.get("schemas", {}).items():
            self.schema(schema, f"components/schemas/{name}")
        for name, response in components.get("responses", {}).items():
            self.response(response, f"components/responses/{name}")
        for name, parameter in components.get("parameters", {}).items():
            self.parameter(parameter, f"components/parameters/{name}")
        for name, header in components.get("headers", {}).items():
            self.header(header, f"components/headers/{name}")

    def security_scheme(self, scheme, where):
        if not self.fields(scheme, "security scheme", where, ("type",)):
            return
        kind = scheme["type"]
        if kind not in {"apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"}:
            self.problem(where, f"unknown type {kind!r}")
        if kind == "http" and "scheme" not in scheme:
            self.problem(where, "an http scheme needs 'scheme'")
        if kind == "apiKey" and not {"name", "in"} <= set(scheme):
            self.problem(where, "an apiKey scheme needs 'name' and 'in'")

    def security(self, requirements, where):
        if not isinstance(requirements, list):
            self.problem(where, "expected a list of security requirements")
            return
        schemes = self.doc.get("components", {}).get("securitySchemes", {})
        for requirement in requirements:
            for name, scopes in requirement.items():
                if name not in schemes:
                    self.problem(where, f"security scheme {name!r} is not declared")
                if not isinstance(scopes, list):
                    self.problem(where, f"scopes of {name!r} must be a list")

    # -- paths and operations --------------------------------------------------------

    def paths(self, paths, tags):
        operation_ids = {}
        templates = {}
        for path, item in paths.items():
            where = f"paths/{path}"
            if not path.startswith("/"):
                self.problem(where, "a path must start with /")
            shape = TEMPLATE.sub("{}", path)
            if shape in templates:
                self.problem(where, f"the same template as {templates[shape]}")
            templates[shape] = path
            if not self.fields(item, "path item", where):
                continue
            names = TEMPLATE.findall(path)
            if len(names) != len(set(names)):
                self.problem(where, "a template variable is used twice")
            common = self.parameters(item.get("parameters", []), where)
            for method in METHODS & set(item):
                self.operation(item[method], f"{where}/{method}", set(names), common, tags)
                operation_id = item[method].get("operationId")
                if operation_id is not None:
                    if operation_id in operation_ids:
                        self.problem(where, f"operationId {operation_id} also at "
                                            f"{operation_ids[operation_id]}")
                    operation_ids[operation_id] = f"{method} {path}"

    def parameters(self, parameters, where):
        """Checks a list of parameters; returns {(name, in): parameter}."""
        found = {}
        for i, item in enumerate(parameters):
            if not (isinstance(item, dict) and "$ref" in item):
                self.parameter(item, f"{where}/parameters/{i}")
            parameter = self.resolve(item, f"{where}/parameters/{i}")
            if not isinstance(parameter, dict):
                continue
            key = (parameter.get("name"), parameter.get("in"))
            if key in found:
                self.problem(where, f"parameter {key} is declared twice")
            found[key] = parameter
        return found

    def operation(self, operation, where, template_names, common, tags):
        if not self.fields(operation, "operation", where, ("responses",)):
            return
        own = self.parameters(operation.get("parameters", []), where)
        declared = {**common, **own}
        path_names = {name for (name, place) in declared if place == "path"}
        for name in template_names - path_names:
            self.problem(where, f"path parameter {{{name}}} is not declared")
        for name in path_names - template_names:
            self.problem(where, f"path parameter {name} is not in the path")
        for tag in operation.get("tags", []):
            if tag not in tags:
                self.problem(where, f"tag {tag!r} is not declared")
        if "security" in operation:
            self.security(operation["security"], f"{where}/security")
        if "requestBody" in operation:
            self.request_body(operation["requestBody"], f"{where}/requestBody")
        responses = operation.get("responses")
        if not isinstance(responses, dict) or not responses:
            self.problem(where, "needs at least one response")
            return
        for status, response in responses.items():
            if not STATUS.match(status) and not status.startswith("x-"):
                self.problem(where, f"{status!r} is not a status code")
            self.response(response, f"{where}/responses/{status}")

    def parameter(self, parameter, where):
        parameter = self.resolve(parameter, where)
        if not self.fields(parameter, "parameter", where, ("name", "in")):
            return
        if parameter["in"] not in PARAMETER_PLACES:
            self.problem(where, f"'in' must be one of {sorted(PARAMETER_PLACES)}")
        if parameter["in"] == "path" and parameter.get("required") is not True:
            self.problem(where, "a path parameter must be required: true")
        if ("schema" in parameter) == ("content" in parameter):
            self.problem(where, "a parameter needs exactly one of schema and content")
        if "schema" in parameter:
            self.schema(parameter["schema"], f"{where}/schema")

    def header(self, header, where):
        header = self.resolve(header, where)
        if self.fields(header, "header", where):
            if "name" in header or "in" in header:
                self.problem(where, "a header has no name or in")
            if "schema" in header:
                self.schema(header["schema"], f"{where}/schema")

    def request_body(self, body, where):
        body = self.resolve(body, where)
        if self.fields(body, "request body", where, ("content",)):
            self.content(body["content"], where)

    def response(self, response, where):
        if isinstance(response, dict) and "$ref" in response:
            self.fields(response, "reference", where)
            response = self.resolve(response, where)
        if not self.fields(response, "response", where, ("description",)):
            return
        self.string(response, "description", where)
        for name, header in response.get("headers", {}).items():
            self.header(header, f"{where}/headers/{name}")
        self.content(response.get("content", {}), where)

    def content(self, content, where):
        if not isinstance(content, dict):
            self.problem(where, "content must be an object of media types")
            return
        for media, item in content.items():
            if "/" not in media:
                self.problem(where, f"{media!r} is not a media type")
            if self.fields(item, "media type", f"{where}/content/{media}"):
                if "schema" in item:
                    self.schema(item["schema"], f"{where}/content/{media}/schema")
                for name, encoding in item.get("encoding", {}).items():
                    self.fields(encoding, "encoding", f"{where}/encoding/{name}")
                    if name not in self.resolve(item.get("schema", {}), where).get(
                            "properties", {}):
                        self.problem(where, f"encoding of {name}, which is no property")

    # -- JSON Schema (2020-12, as OpenAPI 3.1 uses it) ---------------------------------

    def schema(self, schema, where):
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            self.problem(where, "a schema must be an object or a boolean")
            return
        if "nullable" in schema:
            self.problem(where, "'nullable' is OpenAPI 3.0; use type: [..., \"null\"]")
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
        for k in kinds:
            if k not in SCHEMA_TYPES:
                self.problem(where, f"unknown type {k!r}")
        required = schema.get("required", [])
        if not isinstance(required, list) or len(required) != len(set(required)):
            self.problem(where, "'required' must be a list of distinct names")
        properties = schema.get("properties")
        if properties is not None and "allOf" not in schema:
            for name in required:
                if name not in properties:
                    self.problem(where, f"required {name!r} is not among the properties")
        self.schema_numbers(schema, where)
        for name, sub in (properties or {}).items():
            self.schema(sub, f"{where}/properties/{name}")
        for word in ("items", "additionalProperties", "not", "contentSchema"):
            if word in schema:
                self.schema(schema[word], f"{where}/{word}")
        for word in ("allOf", "anyOf", "oneOf"):
            if word in schema:
                if not isinstance(schema[word], list) or not schema[word]:
                    self.problem(where, f"'{word}' must be a non-empty list")
                    continue
                for i, sub in enumerate(schema[word]):
                    self.schema(sub, f"{where}/{word}/{i}")
        if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
            self.problem(where, "'enum' must be a non-empty list")
        if "examples" in schema and not isinstance(schema["examples"], list):
            self.problem(where, "'examples' of a schema must be a list (JSON Schema 2020-12)")

    def schema_numbers(self, schema, where):
        for word in ("minLength", "maxLength", "minItems", "maxItems"):
            if word in schema and (not isinstance(schema[word], int) or schema[word] < 0):
                self.problem(where, f"'{word}' must be a whole number, at least 0")
        for low, high in (("minimum", "maximum"), ("minLength", "maxLength")):
            if low in schema and high in schema and schema[low] > schema[high]:
                self.problem(where, f"'{low}' is above '{high}'")
        if "pattern" in schema:
            try:
                re.compile(schema["pattern"])
            except re.error as error:
                self.problem(where, f"'pattern' is no regular expression: {error}")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        document = json.load(f)
    problems = Checker(document).check()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{sys.argv[1]}: {len(problems)} problems")
        return 1
    paths = document.get("paths", {})
    operations = sum(1 for item in paths.values() for m in item if m in METHODS)
    print(f"{sys.argv[1]}: OpenAPI {document['openapi']}, {len(paths)} paths, "
          f"{operations} operations: well-formed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
