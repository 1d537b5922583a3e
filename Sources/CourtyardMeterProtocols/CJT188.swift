/// CJ/T 188-2004, the protocol of China's household water, gas and heat meters.
///
/// A frame is `[FE…] 68 T A0…A6 C L DATA CS 16`: a meter type, a seven-byte BCD
/// address low byte first, a control code, the data length, the data (no
/// offset: unlike DL/T 645, bytes are sent as they are), a checksum over every
/// byte from 68 to the last data byte, and 16. Data starts with a two-byte data
/// identifier and a serial number. Vendors disagree on the identifier's byte
/// order (`90 1F` or `1F 90`); both are read, and the order seen is reported.
public enum CJT188 {
    /// The meter type byte (T).
    public struct MeterType: Hashable, Sendable, CustomStringConvertible {
        public let raw: UInt8
        public init(raw: UInt8) { self.raw = raw }

        public static let coldWater = MeterType(raw: 0x10)
        public static let hotWater = MeterType(raw: 0x11)
        public static let heat = MeterType(raw: 0x20)
        public static let cooling = MeterType(raw: 0x21)
        public static let gas = MeterType(raw: 0x30)
        public static let electricity = MeterType(raw: 0x40)

        public var name: String {
            switch raw {
            case 0x10: "cold_water"
            case 0x11: "hot_water"
            case 0x12: "drinking_water"
            case 0x13: "reclaimed_water"
            case 0x20: "heat"
            case 0x21: "cooling"
            case 0x30: "gas"
            case 0x40: "electricity"
            case 0xAA: "any"
            default: "type_\(Hex.byte(raw))"
            }
        }

        /// Reads a name (`cold_water`, `gas`…) or two hex digits (`10`).
        public init(text: String) throws(FrameError) {
            for raw: UInt8 in [0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x30, 0x40, 0xAA] where MeterType(raw: raw).name == text {
                self.raw = raw
                return
            }
            guard text.utf8.count == 2, let raw = UInt8(text, radix: 16) else {
                throw .invalidField(field: "type", reason: "a CJ/T 188 meter type is a name (cold_water, gas, …) or two hex digits")
            }
            self.raw = raw
        }

        public var description: String { name }
    }

    /// A meter address: fourteen hex digits, most significant first (the nameplate order).
    public struct Address: Hashable, Sendable, CustomStringConvertible {
        public let wire: [UInt8]
        public static let wildcard = Address(wire: Array(repeating: 0xAA, count: 7))
        init(wire: [UInt8]) { self.wire = wire }

        public init(_ text: String) throws(FrameError) {
            let digits = Array(text.uppercased().utf8)
            guard !digits.isEmpty, digits.count <= 14, digits.allSatisfy({ Hex.nibble($0) != nil }) else {
                throw .invalidField(field: "address", reason: "a CJ/T 188 address is up to 14 hex digits")
            }
            let padded = Array(repeating: UInt8(ascii: "0"), count: 14 - digits.count) + digits
            var wire: [UInt8] = []
            for index in stride(from: 12, through: 0, by: -2) {
                wire.append(Hex.nibble(padded[index])! << 4 | Hex.nibble(padded[index + 1])!)
            }
            self.wire = wire
        }

        public var description: String { wire.reversed().map(Hex.byte).joined() }
    }

    /// Which way round a frame carried its data identifier.
    public enum IdentifierOrder: String, Sendable, Hashable {
        /// `90 1F` (the order in the standard's tables; most meters).
        case highFirst = "high_first"
        /// `1F 90` (some vendors).
        case lowFirst = "low_first"
    }

    /// Data identifiers Courtyard knows.
    public static let currentData: UInt16 = 0x901F
    public static let valveControl: UInt16 = 0xA017
    static let known: Set<UInt16> = [
        0x901F, 0xD120, 0x8102, 0x8103, 0x8104, 0x8105, 0x810A, 0x810E, 0xA010, 0xA011, 0xA012, 0xA013,
        0xA014, 0xA015, 0xA016, 0xA017, 0xA018, 0xA019,
    ]

    /// A frame stripped of its framing.
    public struct Frame: Hashable, Sendable {
        public var type: MeterType
        public var address: Address
        public var control: UInt8
        public var data: [UInt8]

        public init(type: MeterType, address: Address, control: UInt8, data: [UInt8]) {
            self.type = type
            self.address = address
            self.control = control
            self.data = data
        }

        public var isReply: Bool { control & 0x80 != 0 }
        public var isAbnormal: Bool { control & 0x40 != 0 }

        /// The wire bytes with `preamble` FE bytes in front.
        public func encoded(preamble: Int = 2) -> [UInt8] {
            var body: [UInt8] = [0x68, type.raw] + address.wire + [control, UInt8(data.count)] + data
            body.append(DLT645.checksum(body[...]))
            body.append(0x16)
            return Array(repeating: 0xFE, count: preamble) + body
        }

        /// The identifier at the start of the data, read in either byte order, and the order it came in.
        public var identifier: (value: UInt16, order: IdentifierOrder)? {
            guard data.count >= 2 else { return nil }
            let highFirst = UInt16(data[0]) << 8 | UInt16(data[1])
            let lowFirst = UInt16(data[1]) << 8 | UInt16(data[0])
            if CJT188.known.contains(highFirst) { return (highFirst, .highFirst) }
            if CJT188.known.contains(lowFirst) { return (lowFirst, .lowFirst) }
            return (highFirst, .highFirst)
        }
    }

    /// Reads exactly one frame, skipping a leading FE preamble.
    public static func decodeFrame(_ bytes: [UInt8]) throws(FrameError) -> Frame {
        var start = 0
        while start < bytes.count && bytes[start] == 0xFE { start += 1 }
        let available = bytes.count - start
        guard available >= 1 else { throw .truncated(needed: 13) }
        guard bytes[start] == 0x68 else { throw .missingStart(offset: start) }
        guard available >= 11 else { throw .truncated(needed: 13 - available) }
        let length = Int(bytes[start + 10])
        let total = 13 + length
        guard available >= total else { throw .truncated(needed: total - available) }
        let expected = DLT645.checksum(bytes[start..<(start + 11 + length)])
        let found = bytes[start + 11 + length]
        guard expected == found else { throw .badChecksum(expected: expected, found: found) }
        guard bytes[start + 12 + length] == 0x16 else { throw .missingEnd(offset: start + 12 + length) }
        guard available == total else { throw .trailingBytes(count: available - total) }
        return Frame(
            type: MeterType(raw: bytes[start + 1]), address: Address(wire: Array(bytes[(start + 2)..<(start + 9)])),
            control: bytes[start + 9], data: Array(bytes[(start + 11)..<(start + 11 + length)]))
    }

    public static func decode(_ bytes: [UInt8]) throws(FrameError) -> Message {
        try Message(try decodeFrame(bytes))
    }

    // MARK: - Building requests

    /// A read of the current data (control 01, DI 901F).
    public static func readRequest(
        type: MeterType, address: Address, serial: UInt8 = 0, order: IdentifierOrder = .highFirst,
        preamble: Int = 2
    ) -> [UInt8] {
        Frame(type: type, address: address, control: 0x01, data: identifierBytes(currentData, order) + [serial]).encoded(preamble: preamble)
    }

    /// Opens (55) or closes (99) the valve (control 04, DI A017).
    public static func valveCommand(
        type: MeterType, address: Address, open: Bool, serial: UInt8 = 0, order: IdentifierOrder = .highFirst,
        preamble: Int = 2
    ) -> [UInt8] {
        Frame(
            type: type, address: address, control: 0x04,
            data: identifierBytes(valveControl, order) + [serial, open ? 0x55 : 0x99]
        ).encoded(preamble: preamble)
    }

    static func identifierBytes(_ identifier: UInt16, _ order: IdentifierOrder) -> [UInt8] {
        let high = UInt8(identifier >> 8), low = UInt8(identifier & 0xFF)
        return order == .highFirst ? [high, low] : [low, high]
    }

    /// The unit byte of a quantity.
    public static func unitName(_ code: UInt8) -> String {
        switch code {
        case 0x02: "Wh"
        case 0x05: "kWh"
        case 0x08: "MWh"
        case 0x14: "W"
        case 0x17: "kW"
        case 0x29: "L"
        case 0x2C: "m3"
        case 0x32: "L/h"
        case 0x35: "m3/h"
        default: "unit_\(Hex.byte(code))"
        }
    }
}

extension CJT188 {
    /// The status word of a reply (ST): valve state and battery.
    public struct Status: Hashable, Sendable {
        public let raw: [UInt8]

        /// `open`, `closed` or `abnormal` from bits 0–1 of the first byte.
        public var valve: String {
            switch raw[0] & 0x03 {
            case 0x00: "open"
            case 0x01: "closed"
            default: "abnormal"
            }
        }

        public var batteryLow: Bool { raw[0] & 0x04 != 0 }
    }

    /// The 901F reply of a water or gas meter.
    public struct CurrentData: Hashable, Sendable {
        /// The cumulative flow now.
        public var cumulative: MeterValue?
        /// The cumulative flow on the last settlement day.
        public var settlement: MeterValue?
        /// The meter's own clock; nil when it is unset (all zeros) or not a date.
        public var meterTime: MeterClock?
        public var meterTimeBytes: [UInt8]
        public var status: Status

        /// Reads the 19 bytes after DI and SER.
        init(_ payload: ArraySlice<UInt8>) throws(FrameError) {
            guard payload.count == 19 else { throw .badLength(field: "901F data", expected: 19, found: payload.count) }
            let base = payload.startIndex
            func flow(_ at: Int) -> MeterValue? {
                // FF FF FF FF is "no value" on several meters; any non-BCD nibble is treated the same.
                BCD.value(payload[(base + at)..<(base + at + 4)]).map {
                    MeterValue(units: $0, scale: 2, unit: CJT188.unitName(payload[base + at + 4]))
                }
            }
            cumulative = flow(0)
            settlement = flow(5)
            let time = payload[(base + 10)..<(base + 17)]
            meterTimeBytes = Array(time)
            let digits = time.map(BCD.digits)
            if digits.allSatisfy({ $0 != nil }) {
                let d = digits.map { $0! }
                meterTime = MeterClock(year: d[6] * 100 + d[5], month: d[4], day: d[3], hour: d[2], minute: d[1], second: d[0])
            }
            status = Status(raw: Array(payload[(base + 17)..<(base + 19)]))
        }
    }

    /// What a frame means.
    public enum Message: Hashable, Sendable {
        /// A read request (control 01).
        case readRequest(Frame, identifier: UInt16, order: IdentifierOrder, serial: UInt8)
        /// A 901F reply (control 81) with the cumulative flow.
        case currentData(Frame, order: IdentifierOrder, serial: UInt8, data: CurrentData)
        /// A valve command (control 04, DI A017): 55 open, 99 close, anything else vendor-specific.
        case valveCommand(Frame, order: IdentifierOrder, serial: UInt8, action: UInt8)
        /// A write acknowledgement (control 84) with the status word.
        case writeAcknowledged(Frame, identifier: UInt16, order: IdentifierOrder, serial: UInt8, status: Status)
        /// An abnormal reply (control bit 6 set): serial and status.
        case refused(Frame, serial: UInt8?, status: Status?)
        /// Any other well-formed frame.
        case other(Frame)

        init(_ frame: Frame) throws(FrameError) {
            if frame.isReply && frame.isAbnormal {
                let data = frame.data
                self = .refused(frame, serial: data.first, status: data.count >= 3 ? Status(raw: Array(data[1..<3])) : nil)
                return
            }
            guard let (identifier, order) = frame.identifier, frame.data.count >= 3 else {
                self = .other(frame)
                return
            }
            let serial = frame.data[2]
            switch (frame.control, identifier) {
            case (0x01, _):
                self = .readRequest(frame, identifier: identifier, order: order, serial: serial)
            case (0x81, CJT188.currentData):
                self = .currentData(frame, order: order, serial: serial, data: try CurrentData(frame.data[3...]))
            case (0x04, CJT188.valveControl):
                guard frame.data.count == 4 else { throw .badLength(field: "valve command", expected: 4, found: frame.data.count) }
                self = .valveCommand(frame, order: order, serial: serial, action: frame.data[3])
            case (0x84, _):
                guard frame.data.count >= 5 else { throw .badLength(field: "write reply", expected: 5, found: frame.data.count) }
                self = .writeAcknowledged(frame, identifier: identifier, order: order, serial: serial, status: Status(raw: Array(frame.data[3..<5])))
            default:
                self = .other(frame)
            }
        }
    }
}
