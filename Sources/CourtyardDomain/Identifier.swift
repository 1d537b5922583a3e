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
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        return canonical(high: high, low: low)
    }

    /// The canonical text of the 128 bits `high`·`low` (big-endian), written straight into the string's storage.
    static func canonical(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { text in
            var at = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    text[at] = UInt8(ascii: "-")
                    at += 1
                }
                let word = nibble < 16 ? high : low
                let value = UInt8(truncatingIfNeeded: word >> (60 - 4 * UInt64(nibble % 16))) & 0x0F
                text[at] = value < 10 ? 0x30 + value : 0x57 + value
                at += 1
            }
            return 36
        }
    }

    /// A new UUIDv7 for `instant` from the system random source.
    public static func uuidV7(at instant: Date) -> String {
        var generator = SystemRandomNumberGenerator()
        return uuidV7(at: instant, using: &generator)
    }

    /// Formats the 16 bytes of a UUIDv7 from a millisecond timestamp, a 42-bit counter and 32 random bits.
    static func uuidV7(millis: UInt64, counter: UInt64, random: UInt32) -> String {
        // rand_a (12 bits) and the top 30 bits of rand_b carry the counter (RFC 9562 §6.2, method 1).
        let high = (millis & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | (counter >> 30) & 0x0FFF
        let low = 0x8000_0000_0000_0000 | (counter & 0x3FFF_FFFF) << 32 | UInt64(random.byteSwapped)
        return canonical(high: high, low: low)
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
    /// The random tail needs no secrecy (the counter already orders and separates ids): a generator seeded once from
    /// the system, instead of a system call per id, which showed in the ingestion writer's profile.
    private var generator = SplitMix64(seed: UInt64.random(in: .min ... .max))

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

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast generator for bits that must look random but
/// need not be unpredictable: identifiers' random tails, and tests' reproducible scenarios (one seed, one run).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
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
