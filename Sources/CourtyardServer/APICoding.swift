import Foundation
import Hummingbird
import NIOFoundationEssentialsCompat

/// JSON conventions of the REST API: snake_case keys, RFC 3339 instants, and decoding errors turned into problems.
public enum APICoding {
    /// The encoder for every response body.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The decoder for every request body.
    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// Decodes `data` as `T`, mapping every failure to a problem that names the field.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(Problem) -> T {
        if data.isEmpty { throw Problem.malformedJSON("the request body is empty") }
        if let bad = InputText.escapedControlCharacter(inJSON: data) {
            throw Problem(
                .unprocessableContent, code: "control_character", title: "The body contains a control character",
                detail: "\(bad) is not allowed in any value")
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw problem(for: error)
        } catch {
            throw Problem.malformedJSON("the body could not be read as JSON")
        }
    }

    /// The snake_case JSON path of a coding path (`items.3.built_area`).
    static func fieldName(_ path: [any CodingKey]) -> String {
        path.map { key in key.intValue.map(String.init) ?? snakeCase(key.stringValue) }.joined(separator: ".")
    }

    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                if !result.isEmpty { result.append("_") }
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func problem(for error: DecodingError) -> Problem {
        switch error {
        case .keyNotFound(let key, let context):
            let field = fieldName(context.codingPath + [key])
            return .invalid(field, code: "required", "\(field) is required")
        case .valueNotFound(_, let context):
            let field = fieldName(context.codingPath)
            return .invalid(field, code: "required", "\(field) must not be null")
        case .typeMismatch(let type, let context):
            let field = fieldName(context.codingPath)
            if context.codingPath.isEmpty {
                return Problem(
                    .badRequest, code: "malformed_json", title: "The request body has the wrong shape",
                    detail: "expected a JSON object")
            }
            return .invalid(field, code: "invalid_type", "\(field) has the wrong type (expected \(describe(type)))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return .malformedJSON(syntaxMessage(context))
            }
            let field = fieldName(context.codingPath)
            return .invalid(field, code: "invalid_value", readable(context.debugDescription))
        @unknown default:
            return .malformedJSON("the body could not be read")
        }
    }

    /// Where the JSON broke, in words, without the decoder's internals ("DecodingError.dataCorrupted…").
    static func syntaxMessage(_ context: DecodingError.Context) -> String {
        let text = "\(context.debugDescription) \(context.underlyingError.map { "\($0)" } ?? "")"
        if let range = text.range(of: #"line \d+, column \d+"#, options: .regularExpression) {
            return "the body is not valid JSON (near \(text[range]))"
        }
        return "the body is not valid JSON"
    }

    /// A decoder's message about one value, in words: our own messages pass as they are; Foundation's enum message
    /// ("Cannot initialize Status from invalid String value castle") names the value, not the Swift type.
    static func readable(_ message: String) -> String {
        if message.hasPrefix("Cannot initialize") {
            guard let range = message.range(of: " value ") else { return "not one of the allowed values" }
            var value = String(message[range.upperBound...])
            if value.hasSuffix(".") { value.removeLast() }
            return "\"\(value.prefix(64))\" is not one of the allowed values"
        }
        if message.contains("Swift.") || message.contains("DecodingError") { return "this value cannot be read here" }
        return message
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "string"
        case is Int.Type, is Int64.Type: return "integer"
        case is Bool.Type: return "boolean"
        case is Int8.Type, is Int16.Type, is Int32.Type, is UInt8.Type, is UInt16.Type, is UInt32.Type, is UInt64.Type: return "integer"
        case is Double.Type, is Float.Type, is Decimal.Type: return "number"
        case is Date.Type: return "an RFC 3339 time as a string"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array<") || name.hasPrefix("Set<") { return "array" }
            if name.hasPrefix("Dictionary<") || name.hasPrefix("Optional<Dictionary") { return "object" }
            return "a different JSON type"
        }
    }
}

/// Encodes handler results with ``APICoding/encoder``.
public struct APIResponseEncoder: ResponseEncoder {
    public init() {}
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        let data = try APICoding.encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Decodes request bodies with ``APICoding/decode(_:from:)``, so every decoding error is a problem.
public struct APIRequestDecoder: RequestDecoder {
    public init() {}
    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        return try APICoding.decode(T.self, from: Data(buffer: buffer))
    }
}
