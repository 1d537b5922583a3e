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
        /// The success answer is an HTML page for a person (a scanned receipt), not JSON.
        public var html: Bool = false
        /// Other answers that are not problems, each with what it means: a replay answered 200 beside a creation's 201
        /// (the same body), or 204 with no body ("nothing waiting", "done"). `scripts/status-coverage` checks that the
        /// tests reach each documented status and that no route answers one it does not document.
        public var otherStatuses: [Int: String] = [:]
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
    mutating func addSchema<T: Encodable>(
        _ name: String, example: T, required: [String]? = nil, items: [String: ItemType] = [:], freeForm: Set<String> = []
    ) {
        guard schemas[name] == nil, let data = try? APICoding.encoder.encode(example),
            let json = try? JSONDecoder().decode(JSONValue.self, from: data)
        else { return }
        var schema = Self.withoutFormat(Self.declaringEnums(Self.infer(json), of: example), on: freeForm)
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

    /// `schema` with no `format` on the properties named in `fields`, at any depth (a page's items too).
    static func withoutFormat(_ schema: JSONValue, on fields: Set<String>) -> JSONValue {
        guard !fields.isEmpty else { return schema }
        switch schema {
        case .object(var object):
            if case .object(var properties)? = object["properties"] {
                for (name, property) in properties {
                    var cleaned = withoutFormat(property, on: fields)
                    if fields.contains(name), case .object(var inner) = cleaned {
                        // Marked, so a reader (and the document's own completeness test) knows the format is left out on purpose.
                        inner["format"] = nil
                        inner["x-free-form"] = .bool(true)
                        cleaned = .object(inner)
                    }
                    properties[name] = cleaned
                }
                object["properties"] = .object(properties)
            }
            if let items = object["items"] { object["items"] = withoutFormat(items, on: fields) }
            return .object(object)
        default:
            return schema
        }
    }

    private static func infer(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            var schema: [String: JSONValue] = ["type": .string("string")]
            if let format = Self.format(of: text) { schema["format"] = .string(format) }
            return .object(schema)
        case .number(let text): return .object(["type": .string(text.contains(".") ? "number" : "integer")])
        case .bool: return .object(["type": .string("boolean")])
        case .null: return .object(["type": .array([.string("string"), .string("null")])])
        case .array(let items): return .object(["type": .string("array"), "items": items.first.map(infer) ?? .object([:])])
        case .object(let fields):
            return .object(["type": .string("object"), "properties": .object(fields.mapValues(infer))])
        }
    }

    /// What every operation's description says beyond its summary: who may call it, and how the answer is shaped.
    static func description(of operation: Operation) -> String {
        var sentences = [operation.summary.hasSuffix(".") ? operation.summary : operation.summary + "."]
        if let permission = operation.permission {
            sentences.append(
                "Needs a bearer token whose role holds the `\(permission.rawValue)` permission (docs/AUTH.md); "
                    + "objects outside the caller's company or communities answer 404.")
        } else {
            sentences.append("No sign-in: the route is public or authenticates itself (a signature, a device token or a receipt token).")
        }
        if operation.queryParameters.contains("cursor") {
            sentences.append("Paged: pass the answer's `next_cursor` as `cursor` until it is null.")
        }
        if !operation.queryParameters.isEmpty {
            sentences.append("An unknown query parameter is refused (422 `unknown_parameter`).")
        }
        if operation.html { sentences.append("Answers an HTML page for a person, not JSON.") }
        return sentences.joined(separator: " ")
    }

    /// Descriptions of the query parameters that mean the same on every route.
    static let queryDescriptions: [String: String] = [
        "limit": "Page size, an integer from 1 to the route's maximum (422 `out_of_range` otherwise).",
        "cursor": "The `next_cursor` of the previous page (422 `invalid_cursor` if it was not one).",
        "community_id": "Only this community's objects.",
        "building_id": "Only this building's objects.",
        "house_id": "Only this house's objects.",
    ]

    /// The format an example string shows: an RFC 3339 instant (`date-time`), a calendar day (`date`), a UUID (`uuid`),
    /// or an exact decimal (`decimal`, money amounts and readings: decimal text, never a binary float).
    public static func format(of text: String) -> String? {
        let bytes = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Bool { range.upperBound <= bytes.count && bytes[range].allSatisfy { (0x30...0x39).contains($0) } }
        func byte(_ index: Int, _ character: Character) -> Bool { index < bytes.count && bytes[index] == character.asciiValue }
        let isDay = digits(0..<4) && byte(4, "-") && digits(5..<7) && byte(7, "-") && digits(8..<10)
        if isDay && bytes.count == 10 { return "date" }
        if isDay && byte(10, "T") && digits(11..<13) && byte(13, ":") {
            let offset = bytes.count - 6
            let hasOffset = offset > 13 && (byte(offset, "+") || byte(offset, "-")) && digits(offset + 1..<offset + 3) && byte(offset + 3, ":")
            if text.hasSuffix("Z") || hasOffset { return "date-time" }
        }
        if UUID(uuidString: text) != nil { return "uuid" }
        let unsigned = text.hasPrefix("-") ? Array(bytes.dropFirst()) : bytes
        let parts = unsigned.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { (0x30...0x39).contains($0) } }), parts.count == 2 {
            return "decimal"
        }
        return nil
    }

    /// The schema with `enum` declared on each string property whose Swift value is a `CaseIterable` string enum,
    /// found by reflecting the example (property names converted as the API's encoder converts them, snake case).
    static func declaringEnums(_ schema: JSONValue, of example: Any) -> JSONValue {
        guard case .object(var object) = schema else { return schema }
        if case .object(var properties)? = object["properties"] {
            for child in Mirror(reflecting: example).children {
                guard let label = child.label else { continue }
                let key = Self.snakeCase(label.hasPrefix("_") ? String(label.dropFirst()) : label)
                guard let property = properties[key] else { continue }
                let value = Self.unwrapped(child.value)
                if let cases = Self.enumCases(value), case .object(var described) = property {
                    described["enum"] = .array(cases.map(JSONValue.string))
                    properties[key] = .object(described)
                } else if case .object(var described) = property, described["type"] == .string("array"),
                    let first = (value as? [Any])?.first, let cases = Self.enumCases(first),
                    case .object(var items)? = described["items"]
                {
                    items["enum"] = .array(cases.map(JSONValue.string))
                    described["items"] = .object(items)
                    properties[key] = .object(described)
                } else if Mirror(reflecting: value).displayStyle == .struct {
                    properties[key] = Self.declaringEnums(property, of: value)
                }
            }
            object["properties"] = .object(properties)
        }
        return .object(object)
    }

    /// The value inside an optional, or the value itself.
    private static func unwrapped(_ value: Any) -> Any {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.map { unwrapped($0.value) } ?? value
    }

    /// The raw values of `value`'s type when it is a `CaseIterable` enum of strings.
    private static func enumCases(_ value: Any) -> [String]? {
        guard let value = value as? any CaseIterable else { return nil }
        func cases<T: CaseIterable>(_: T) -> [String] { T.allCases.compactMap { ($0 as? any RawRepresentable)?.rawValue as? String } }
        let names = cases(value)
        return names.isEmpty ? nil : names
    }

    /// `camelCase` as `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase` writes it.
    static func snakeCase(_ name: String) -> String {
        var result = ""
        var previousWasLower = false
        for character in name {
            if character.isUppercase {
                if previousWasLower { result.append("_") }
                result.append(contentsOf: character.lowercased())
                previousWasLower = false
            } else {
                result.append(character)
                previousWasLower = character.isLowercase || character.isNumber
            }
        }
        return result
    }

    /// The document as JSON.
    public func json() -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            var entry: [String: JSONValue] = [
                "summary": .string(operation.summary),
                "description": .string(Self.description(of: operation)),
                "tags": .array([.string(operation.tag)]),
                "operationId": .string("\(operation.method.rawValue.lowercased())\(operation.path.replacingOccurrences(of: "/", with: "_"))"),
            ]
            var parameters: [JSONValue] = []
            for segment in operation.path.split(separator: "/") where segment.hasPrefix("{") {
                parameters.append(
                    .object([
                        "name": .string(String(segment.dropFirst().dropLast())), "in": .string("path"),
                        "required": .bool(true), "schema": .object(["type": .string("string")]),
                    ]))
            }
            for name in operation.queryParameters {
                var parameter: [String: JSONValue] = [
                    "name": .string(name), "in": .string("query"), "required": .bool(false),
                    "schema": .object(["type": .string(name == "limit" ? "integer" : "string")]),
                ]
                if let description = Self.queryDescriptions[name] { parameter["description"] = .string(description) }
                parameters.append(.object(parameter))
            }
            if !parameters.isEmpty { entry["parameters"] = .array(parameters) }
            if let request = operation.requestSchema {
                entry["requestBody"] = .object([
                    "required": .bool(true),
                    "content": .object([
                        "application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/\(request)")])])
                    ]),
                ])
            }
            var success: [String: JSONValue] = ["description": .string("Success")]
            if operation.html {
                success["content"] = .object(["text/html": .object(["schema": .object(["type": .string("string")])])])
            } else if let response = operation.responseSchema {
                success["content"] = .object([
                    "application/json": .object([
                        "schema": .object(["$ref": .string("#/components/schemas/\(response)")])
                    ])
                ])
            }
            var responses: [String: JSONValue] = [String(operation.successStatus): .object(success)]
            for (status, meaning) in operation.otherStatuses {
                var other = success
                other["description"] = .string(meaning)
                if status == 204 { other["content"] = nil }
                responses[String(status)] = .object(other)
            }
            responses["default"] = .object([
                "description": .string("Problem (RFC 9457)"),
                "content": .object([
                    "application/problem+json": .object(["schema": .object(["$ref": .string("#/components/schemas/Problem")])])
                ]),
            ])
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
                "errors": .object([
                    "type": .string("array"),
                    "items": .object([
                        "type": .string("object"),
                        "properties": .object([
                            "field": .object(["type": .string("string")]), "code": .object(["type": .string("string")]),
                            "message": .object(["type": .string("string")]),
                        ]),
                    ]),
                ]),
            ]),
        ])
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string("Courtyard API"), "version": .string("1"),
                "description": .string(
                    "Metered billing and prepayment for residential communities. Errors are RFC 9457 problem JSON with a stable `code`."),
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
