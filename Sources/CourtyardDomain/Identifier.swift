import Foundation

/// Server-assigned identifiers: UUIDv7 (RFC 9562), time-ordered so ids sort by creation and serve as stable pagination cursors.
public enum Identifier {
    /// A new UUIDv7 for `instant`, with random bits from `generator`.
    public static func uuidV7(at instant: Date, using generator: inout some RandomNumberGenerator) -> String {
        let millis = UInt64(max(0, (instant.timeIntervalSince1970 * 1000).rounded(.down)))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        let random = (generator.next() as UInt64, generator.next() as UInt64)
        for index in 6..<16 {
            let word = index < 11 ? random.0 : random.1
            bytes[index] = UInt8(truncatingIfNeeded: word >> (8 * (index % 8)))
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return uuid.uuidString.lowercased()
    }

    /// A new UUIDv7 for `instant` from the system random source.
    public static func uuidV7(at instant: Date) -> String {
        var generator = SystemRandomNumberGenerator()
        return uuidV7(at: instant, using: &generator)
    }

    /// Whether `text` is a lowercase or uppercase canonical UUID.
    public static func isValid(_ text: String) -> Bool {
        text.count == 36 && UUID(uuidString: text) != nil
    }
}

/// The source of "now" for everything that depends on time.
///
/// Injected everywhere so that tests and simulations control time; nothing in
/// Courtyard calls `Date()` on a decision path.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The real clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
