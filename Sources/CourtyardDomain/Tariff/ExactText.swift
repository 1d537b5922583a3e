import Foundation

/// Reads a JSON string or number as exact decimal text, never through `Double`.
func decodeExactText(_ decoder: any Decoder, what: String) throws -> String {
    let container = try decoder.singleValueContainer()
    if let text = try? container.decode(String.self) { return text }
    if let number = try? container.decode(Decimal.self) { return "\(number)" }
    throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected \(what)"))
}

extension FixedPoint.ParseError {
    /// Wraps a parse failure as a decoding error at the decoder's path.
    func decodingError(_ decoder: any Decoder, what: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected \(what)"))
    }
}
