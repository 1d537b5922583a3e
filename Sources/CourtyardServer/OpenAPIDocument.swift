import CourtyardDomain
import Foundation
import Hummingbird

/// The OpenAPI 3.1 description of the REST API, built from the same registrations that add the routes.
///
/// Routes are added through ``DocumentedRouter``, which records each
/// operation here as it registers the handler, so code and document cannot
/// drift; a test compares the router's routes against this document.
public struct OpenAPIDocument: Sendable {
    /// One documented operation.
    public struct Operation: Sendable {
        public var method: HTTPRequest.Method
        /// OpenAPI form: `/api/v1/houses/{id}`.
        public var path: String
        public var summary: String
        public var tag: String
        public var permission: Permission?
        public var requestSchema: String?
        public var responseSchema: String?
        public var successStatus: Int
        public var queryParameters: [String]
    }

    public private(set) var operations: [Operation] = []
    private var schemas: [String: JSONValue] = [:]

    public init() {}

    /// Converts a Hummingbird route pattern (`/houses/:id`) to OpenAPI form (`/houses/{id}`).
    public static func openAPIPath(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }
        let joined = parts.joined(separator: "/")
        return joined.hasPrefix("/") ? joined : "/" + joined
    }

    mutating func add(_ operation: Operation) {
        operations.append(operation)
    }

    /// What an array property holds when its example is empty: another documented schema, or strings.
    public enum ItemType: Sendable {
        case schema(String)
        case string
        case object(description: String)

        var json: JSONValue {
            switch self {
            case .schema(let name): .object(["$ref": .string("#/components/schemas/\(name)")])
            case .string: .object(["type": .string("string")])
            case .object(let description): .object(["type": .string("object"), "description": .string(description)])
            }
        }
    }

    /// Adds a named schema inferred from an example value (encoded with the API's conventions); `items` says what the
    /// example's empty arrays hold (by property name), so that no array is left untyped.
    mutating func addSchema<T: Encodable>(_ name: String, example: T, required: [String]? = nil, items: [String: ItemType] = [:]) {
        guard schemas[name] == nil, let data = try? APICoding.encoder.encode(example),
              let json = try? JSONDecoder().decode(JSONValue.self, from: data) else { return }
        var schema = Self.infer(json)
        if !items.isEmpty, case .object(var object) = schema, case .object(var properties)? = object["properties"] {
            for (property, type) in items {
                properties[property] = .object(["type": .string("array"), "items": type.json])
            }
            object["properties"] = .object(properties)
            schema = .object(object)
        }
        if case .object(var object) = schema {
            object["example"] = json
            if let required { object["required"] = .array(required.map(JSONValue.string)) }
            schema = .object(object)
        }
        schemas[name] = schema
    }

    private static func infer(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string: return .object(["type": .string("string")])
        case .number(let text): return .object(["type": .string(text.contains(".") ? "number" : "integer")])
        case .bool: return .object(["type": .string("boolean")])
        case .null: return .object(["type": .array([.string("string"), .string("null")])])
        case .array(let items): return .object(["type": .string("array"), "items": items.first.map(infer) ?? .object([:])])
        case .object(let fields):
            return .object(["type": .string("object"), "properties": .object(fields.mapValues(infer))])
        }
    }

    /// The document as JSON.
    public func json() -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            var entry: [String: JSONValue] = [
                "summary": .string(operation.summary),
                "tags": .array([.string(operation.tag)]),
                "operationId": .string("\(operation.method.rawValue.lowercased())\(operation.path.replacingOccurrences(of: "/", with: "_"))"),
            ]
            var parameters: [JSONValue] = []
            for segment in operation.path.split(separator: "/") where segment.hasPrefix("{") {
                parameters.append(.object(["name": .string(String(segment.dropFirst().dropLast())), "in": .string("path"),
                                           "required": .bool(true), "schema": .object(["type": .string("string")])]))
            }
            for name in operation.queryParameters {
                parameters.append(.object(["name": .string(name), "in": .string("query"), "required": .bool(false),
                                           "schema": .object(["type": .string(name == "limit" ? "integer" : "string")])]))
            }
            if !parameters.isEmpty { entry["parameters"] = .array(parameters) }
            if let request = operation.requestSchema {
                entry["requestBody"] = .object(["required": .bool(true), "content": .object([
                    "application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/\(request)")])]),
                ])])
            }
            var success: [String: JSONValue] = ["description": .string("Success")]
            if let response = operation.responseSchema {
                success["content"] = .object(["application/json": .object([
                    "schema": .object(["$ref": .string("#/components/schemas/\(response)")]),
                ])])
            }
            var responses: [String: JSONValue] = [String(operation.successStatus): .object(success)]
            responses["default"] = .object(["description": .string("Problem (RFC 9457)"), "content": .object([
                "application/problem+json": .object(["schema": .object(["$ref": .string("#/components/schemas/Problem")])]),
            ])])
            entry["responses"] = .object(responses)
            if let permission = operation.permission {
                entry["security"] = .array([.object(["bearer": .array([])])])
                entry["x-courtyard-permission"] = .string(permission.rawValue)
            }
            paths[operation.path, default: [:]][operation.method.rawValue.lowercased()] = .object(entry)
        }
        var allSchemas = schemas
        allSchemas["Problem"] = .object([
            "type": .string("object"),
            "required": .array(["type", "title", "status", "code"].map(JSONValue.string)),
            "properties": .object([
                "type": .object(["type": .string("string")]), "title": .object(["type": .string("string")]),
                "status": .object(["type": .string("integer")]), "code": .object(["type": .string("string")]),
                "detail": .object(["type": .string("string")]), "instance": .object(["type": .string("string")]),
                "request_id": .object(["type": .string("string")]),
                "errors": .object(["type": .string("array"), "items": .object(["type": .string("object"), "properties": .object([
                    "field": .object(["type": .string("string")]), "code": .object(["type": .string("string")]),
                    "message": .object(["type": .string("string")]),
                ])])]),
            ]),
        ])
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string("Courtyard API"), "version": .string("1"),
                "description": .string("Metered billing and prepayment for residential communities. Errors are RFC 9457 problem JSON with a stable `code`."),
            ]),
            "servers": .array([.object(["url": .string("/")])]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object([
                "schemas": .object(allSchemas),
                "securitySchemes": .object(["bearer": .object(["type": .string("http"), "scheme": .string("bearer")])]),
            ]),
        ])
    }
}

/// A JSON value, for documents assembled in code and for merging PATCH bodies.
public enum JSONValue: Codable, Sendable, Equatable {
    case string(String)
    /// The number's exact text, so no value passes through floating point.
    case number(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Decimal.self) {
            self = .number("\(value)")
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let text): try container.encode(Decimal(string: text) ?? 0)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
