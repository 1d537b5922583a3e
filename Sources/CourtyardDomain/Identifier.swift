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
        return canonical(bytes)
    }

    /// The canonical lowercase text of 16 bytes (8-4-4-4-12), written by table: `UUID.uuidString` formats through
    /// `sprintf`, which showed in profiles of bulk writes that mint an id per row.
    static func canonical(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// A new UUIDv7 for `instant` from the system random source.
    public static func uuidV7(at instant: Date) -> String {
        var generator = SystemRandomNumberGenerator()
        return uuidV7(at: instant, using: &generator)
    }

    /// Formats the 16 bytes of a UUIDv7 from a millisecond timestamp, a 42-bit counter and 32 random bits.
    static func uuidV7(millis: UInt64, counter: UInt64, random: UInt32) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        // rand_a (12 bits) and the top 30 bits of rand_b carry the counter (RFC 9562 §6.2, method 1).
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: (counter >> 38) & 0x0F)
        bytes[7] = UInt8(truncatingIfNeeded: counter >> 30)
        bytes[8] = 0x80 | UInt8(truncatingIfNeeded: (counter >> 24) & 0x3F)
        bytes[9] = UInt8(truncatingIfNeeded: counter >> 16)
        bytes[10] = UInt8(truncatingIfNeeded: counter >> 8)
        bytes[11] = UInt8(truncatingIfNeeded: counter)
        for index in 12..<16 { bytes[index] = UInt8(truncatingIfNeeded: random >> (8 * (index - 12))) }
        return canonical(bytes)
    }

    /// Whether `text` is a lowercase or uppercase canonical UUID.
    public static func isValid(_ text: String) -> Bool {
        text.count == 36 && UUID(uuidString: text) != nil
    }
}

/// UUIDv7s that increase strictly within one process-local sequence, even within one millisecond.
///
/// Bulk writers (a bill run creates millions of rows in the same millisecond)
/// use it so that new rows append to their indexes instead of landing at
/// random places, which is what made large runs slow down as tables grew.
public struct IdentifierSequence: Sendable {
    private var millis: UInt64
    private var counter: UInt64
    private var generator = SystemRandomNumberGenerator()

    /// A sequence starting at `instant`, with a random counter start that leaves room for 2^41 ids.
    public init(at instant: Date) {
        millis = UInt64(max(0, (instant.timeIntervalSince1970 * 1000).rounded(.down)))
        counter = UInt64.random(in: 0..<(1 << 40))
    }

    public mutating func next() -> String {
        counter += 1
        if counter >= (1 << 42) {
            millis += 1
            counter = 0
        }
        return Identifier.uuidV7(millis: millis, counter: counter, random: generator.next())
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
