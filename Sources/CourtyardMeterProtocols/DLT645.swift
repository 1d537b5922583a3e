/// DL/T 645-2007, the multi-function electricity meter protocol of China's grid.
///
/// A frame is `[FE…] 68 A0…A5 68 C L DATA CS 16`: a six-byte BCD address sent
/// low byte first (`AA…AA` is the wildcard), a control code, the data length,
/// the data with 0x33 added to every byte, a checksum (sum of every byte from
/// the first 68 to the last data byte, mod 256) and the end delimiter. This
/// type reads and builds the frames Courtyard needs: reads of a data identifier
/// and their normal, follow-up and abnormal replies, and the 0x1C remote
/// control (trip, close) with its acknowledgement or refusal.
public enum DLT645 {
    /// A meter address: twelve hex digits as printed on the nameplate (most significant first).
    public struct Address: Hashable, Sendable, CustomStringConvertible {
        /// The six address bytes in wire order (low byte first).
        public let wire: [UInt8]

        /// The broadcast/wildcard address `AAAAAAAAAAAA`.
        public static let wildcard = Address(wire: Array(repeating: 0xAA, count: 6))

        init(wire: [UInt8]) { self.wire = wire }

        /// Reads a nameplate address: up to twelve digits (shorter ones are zero-padded on the left); `A` allowed as wildcard nibble.
        public init(_ text: String) throws(FrameError) {
            let digits = Array(text.uppercased().utf8)
            guard !digits.isEmpty, digits.count <= 12,
                digits.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "A") })
            else {
                throw .invalidField(field: "address", reason: "a DL/T 645 address is up to 12 decimal digits (A for wildcard)")
            }
            let padded = Array(repeating: UInt8(ascii: "0"), count: 12 - digits.count) + digits
            var wire: [UInt8] = []
            for index in stride(from: 10, through: 0, by: -2) {
                wire.append(Hex.nibble(padded[index])! << 4 | Hex.nibble(padded[index + 1])!)
            }
            self.wire = wire
        }

        public var description: String { wire.reversed().map(Hex.byte).joined() }
    }

    /// The control byte: direction, abnormal flag, follow-up flag and function code.
    public struct Control: Hashable, Sendable {
        public let raw: UInt8
        public init(raw: UInt8) { self.raw = raw }

        /// Set on frames a meter sends.
        public var isReply: Bool { raw & 0x80 != 0 }
        /// Set on a refusal (the data is an error word).
        public var isAbnormal: Bool { raw & 0x40 != 0 }
        /// Set when more frames follow.
        public var hasFollowUp: Bool { raw & 0x20 != 0 }
        /// The function code (bits 0–4).
        public var function: UInt8 { raw & 0x1F }

        public static let read = Control(raw: 0x11)
        public static let remoteControl = Control(raw: 0x1C)
    }

    /// A frame stripped of its framing: address, control and data with the 0x33 offset removed.
    public struct Frame: Hashable, Sendable {
        public var address: Address
        public var control: Control
        /// The data field as the meter means it (0x33 already subtracted).
        public var data: [UInt8]

        public init(address: Address, control: Control, data: [UInt8]) {
            self.address = address
            self.control = control
            self.data = data
        }

        /// The wire bytes, with `preamble` FE bytes in front (masters commonly send four).
        public func encoded(preamble: Int = 4) -> [UInt8] {
            var bytes = Array(repeating: UInt8(0xFE), count: preamble)
            var body: [UInt8] = [0x68] + address.wire + [0x68, control.raw, UInt8(data.count)]
            body += data.map { $0 &+ 0x33 }
            body.append(checksum(body[...]))
            body.append(0x16)
            bytes += body
            return bytes
        }
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt8 {
        var sum: UInt8 = 0
        for byte in bytes { sum &+= byte }
        return sum
    }

    /// Reads exactly one frame from `bytes`, skipping a leading FE preamble.
    public static func decodeFrame(_ bytes: [UInt8]) throws(FrameError) -> Frame {
        var start = 0
        while start < bytes.count && bytes[start] == 0xFE { start += 1 }
        let available = bytes.count - start
        guard available >= 1 else { throw .truncated(needed: 12) }
        guard bytes[start] == 0x68 else { throw .missingStart(offset: start) }
        guard available >= 10 else { throw .truncated(needed: 12 - available) }
        guard bytes[start + 7] == 0x68 else { throw .missingStart(offset: start + 7) }
        let length = Int(bytes[start + 9])
        let total = 12 + length
        guard available >= total else { throw .truncated(needed: total - available) }
        let expected = checksum(bytes[start..<(start + 10 + length)])
        let found = bytes[start + 10 + length]
        guard expected == found else { throw .badChecksum(expected: expected, found: found) }
        guard bytes[start + 11 + length] == 0x16 else { throw .missingEnd(offset: start + 11 + length) }
        guard available == total else { throw .trailingBytes(count: available - total) }
        return Frame(
            address: Address(wire: Array(bytes[(start + 1)..<(start + 7)])), control: Control(raw: bytes[start + 8]),
            data: bytes[(start + 10)..<(start + 10 + length)].map { $0 &- 0x33 })
    }

    /// Reads one frame and interprets it.
    public static func decode(_ bytes: [UInt8]) throws(FrameError) -> Message {
        try Message(try decodeFrame(bytes))
    }

    // MARK: - Building requests

    /// A read request for one data identifier (control 0x11).
    public static func readRequest(address: Address, identifier: DataIdentifier, preamble: Int = 4) -> [UInt8] {
        Frame(address: address, control: .read, data: identifier.wire).encoded(preamble: preamble)
    }

    /// A remote-control frame (control 0x1C): trip, allow closing, or close, valid until `validUntil` (meter local time).
    ///
    /// - Parameters:
    ///   - password: eight hex digits, the privilege level first (`02` + six digits on most meters).
    ///   - operatorCode: eight hex digits identifying who sent the command.
    ///   - now: the meter-local time now; a command that has already expired is refused.
    public static func remoteControl(
        address: Address, command: RemoteCommand, validUntil: MeterClock, now: MeterClock,
        password: String = "00000000", operatorCode: String = "00000000",
        preamble: Int = 4
    ) throws(FrameError) -> [UInt8] {
        guard validUntil > now else {
            throw .invalidField(field: "valid_until", reason: "must be after the meter's current time \(now)")
        }
        let passwordBytes = try fourBytes(password, field: "password")
        let operatorBytes = try fourBytes(operatorCode, field: "operator")
        let data = passwordBytes + operatorBytes + [command.rawValue, 0x00] + clockBytes(validUntil)
        return Frame(address: address, control: .remoteControl, data: data).encoded(preamble: preamble)
    }

    /// Eight hex digits as four wire bytes: the first two digits go first (the password's privilege level, PA).
    static func fourBytes(_ text: String, field: String) throws(FrameError) -> [UInt8] {
        guard text.utf8.count == 8, let bytes = try? Hex.bytes(text) else {
            throw .invalidField(field: field, reason: "must be 8 hex digits")
        }
        return field == "password" ? [bytes[0]] + bytes[1...].reversed() : bytes.reversed()
    }

    static func clockBytes(_ clock: MeterClock) -> [UInt8] {
        [
            BCD.byte(clock.second), BCD.byte(clock.minute), BCD.byte(clock.hour), BCD.byte(clock.day), BCD.byte(clock.month),
            BCD.byte(clock.year % 100),
        ]
    }
}

extension DLT645 {
    /// The commands of a 0x1C remote-control frame (N1).
    public enum RemoteCommand: UInt8, Sendable, CaseIterable, Hashable {
        /// Trip: open the relay, supply off (拉闸).
        case trip = 0x1A
        /// Allow closing: the customer closes by pressing the button (合闸允许).
        case closePermitted = 0x1B
        /// Close directly (直接合闸).
        case close = 0x1C
        case alarm = 0x2A
        case alarmRelease = 0x2B
        /// Keep power on regardless of balance (保电).
        case keepPower = 0x3A
        case keepPowerRelease = 0x3B

        public var name: String {
            switch self {
            case .trip: "trip"
            case .closePermitted: "close_permitted"
            case .close: "close"
            case .alarm: "alarm"
            case .alarmRelease: "alarm_release"
            case .keepPower: "keep_power"
            case .keepPowerRelease: "keep_power_release"
            }
        }

        public init?(name: String) {
            guard let match = Self.allCases.first(where: { $0.name == String(name.map { $0 == "-" ? "_" : $0 }) }) else { return nil }
            self = match
        }
    }

    /// The error word of an abnormal reply, bit by bit.
    public struct ErrorWord: Hashable, Sendable {
        public let raw: UInt8
        public init(raw: UInt8) { self.raw = raw }

        /// The named bits that are set, e.g. `["no_data"]`.
        public var reasons: [String] {
            let names = [
                "other_error", "no_data", "unauthorized", "baud_rate_unchangeable", "too_many_year_zones",
                "too_many_day_periods", "too_many_tariffs", "reserved",
            ]
            return (0..<8).filter { raw & (1 << $0) != 0 }.map { names[$0] }
        }
    }

    /// A 0x1C remote-control request as decoded.
    public struct RemoteControlRequest: Hashable, Sendable {
        /// The password as eight hex digits, privilege level first.
        public var password: String
        public var operatorCode: String
        /// The command byte (N1), decoded when known.
        public var commandByte: UInt8
        public var command: RemoteCommand? { RemoteCommand(rawValue: commandByte) }
        public var validUntil: MeterClock?
        public var validUntilBytes: [UInt8]
    }

    /// What a frame means.
    public enum Message: Hashable, Sendable {
        /// The master asks for a data identifier (control 0x11).
        case readRequest(address: Address, identifier: DataIdentifier)
        /// The meter answers a read (0x91, or 0xB1 with more frames to follow).
        case readReply(address: Address, identifier: DataIdentifier, values: [DataIdentifier.Value]?, payload: [UInt8], followUp: Bool)
        /// The meter refuses a read (0xD1) with an error word.
        case readRefused(address: Address, error: ErrorWord)
        /// A remote-control command (0x1C).
        case remoteControl(address: Address, request: RemoteControlRequest)
        /// The meter carried out a remote-control command (0x9C).
        case remoteControlDone(address: Address)
        /// The meter refused a remote-control command (0xDC).
        case remoteControlRefused(address: Address, error: ErrorWord)
        /// Any other well-formed frame.
        case other(Frame)

        init(_ frame: Frame) throws(FrameError) {
            let address = frame.address
            switch frame.control.raw {
            case 0x11:
                guard frame.data.count >= 4 else { throw .badLength(field: "data", expected: 4, found: frame.data.count) }
                self = .readRequest(address: address, identifier: DataIdentifier(wire: frame.data[0..<4]))
            case 0x91, 0xB1:
                guard frame.data.count >= 4 else { throw .badLength(field: "data", expected: 4, found: frame.data.count) }
                let identifier = DataIdentifier(wire: frame.data[0..<4])
                let payload = Array(frame.data[4...])
                self = .readReply(
                    address: address, identifier: identifier, values: try identifier.values(in: payload),
                    payload: payload, followUp: frame.control.hasFollowUp)
            case 0xD1, 0xDC:
                guard frame.data.count == 1 else { throw .badLength(field: "error_word", expected: 1, found: frame.data.count) }
                let error = ErrorWord(raw: frame.data[0])
                self =
                    frame.control.raw == 0xD1
                    ? .readRefused(address: address, error: error)
                    : .remoteControlRefused(address: address, error: error)
            case 0x1C:
                guard frame.data.count == 16 else { throw .badLength(field: "data", expected: 16, found: frame.data.count) }
                let data = frame.data
                let password = Hex.byte(data[0]) + data[1..<4].reversed().map(Hex.byte).joined()
                let operatorCode = data[4..<8].reversed().map(Hex.byte).joined()
                let clock = data[10..<16]
                var until: MeterClock?
                if let second = BCD.digits(clock[clock.startIndex]), let minute = BCD.digits(clock[clock.startIndex + 1]),
                    let hour = BCD.digits(clock[clock.startIndex + 2]), let day = BCD.digits(clock[clock.startIndex + 3]),
                    let month = BCD.digits(clock[clock.startIndex + 4]), let year = BCD.digits(clock[clock.startIndex + 5])
                {
                    until = MeterClock(year: 2000 + year, month: month, day: day, hour: hour, minute: minute, second: second)
                }
                self = .remoteControl(
                    address: address,
                    request: RemoteControlRequest(
                        password: password, operatorCode: operatorCode, commandByte: data[8], validUntil: until, validUntilBytes: Array(clock)))
            case 0x9C:
                self = .remoteControlDone(address: address)
            default:
                self = .other(frame)
            }
        }
    }
}
