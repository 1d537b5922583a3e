import Foundation

/// A valve's, switch's or barrier's position: what Courtyard wants, or what the device reports.
public enum SupplyPosition: String, Codable, Sendable, Hashable {
    case open, closed
}

/// JSON as devices and their gateways speak it: snake_case keys, sorted so a payload's bytes are stable.
public enum DeviceJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
