extension DLT645 {
    /// A DL/T 645-2007 data identifier (DI3 DI2 DI1 DI0), e.g. `00010000` for forward active energy, total.
    ///
    /// On the wire the four bytes go DI0 first, each +0x33: `00 01 00 00` is sent as `33 33 34 33`.
    /// The formats Courtyard reads are listed in ``DataIdentifier/format``; any other identifier
    /// still decodes, with its payload left as bytes.
    public struct DataIdentifier: Hashable, Sendable, CustomStringConvertible {
        public let value: UInt32

        public init(_ value: UInt32) { self.value = value }

        init(wire: ArraySlice<UInt8>) {
            let bytes = Array(wire)
            value = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        }

        /// Reads eight hex digits, most significant first (`00010000`).
        public init(text: String) throws(FrameError) {
            guard text.utf8.count == 8, let value = UInt32(text, radix: 16) else {
                throw .invalidField(field: "identifier", reason: "a DL/T 645 data identifier is 8 hex digits, e.g. 00010000")
            }
            self.value = value
        }

        /// The four bytes DI0 first, before the 0x33 offset.
        public var wire: [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)] }

        public var description: String { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)].map(Hex.byte).joined() }

        public static let combinedActiveEnergy = DataIdentifier(0x0000_0000)
        public static let forwardActiveEnergy = DataIdentifier(0x0001_0000)
        public static let forwardActiveEnergyBlock = DataIdentifier(0x0001_FF00)
        public static let reverseActiveEnergy = DataIdentifier(0x0002_0000)
        public static let totalActivePower = DataIdentifier(0x0203_0000)
        public static let frequency = DataIdentifier(0x0280_0002)

        /// One field of a reply: a named quantity, and the Courtyard register it feeds, if any.
        public struct Field: Hashable, Sendable {
            public var name: String
            /// The ingestion register (`energy_total`, `tou_peak`, …) or nil for instantaneous values.
            public var register: String?
            public var bytes: Int
            public var scale: Int
            public var unit: String
            public var signed: Bool
        }

        /// A decoded field of a reply.
        public struct Value: Hashable, Sendable, Encodable {
            public var name: String
            public var register: String?
            public var value: MeterValue

            enum CodingKeys: String, CodingKey { case name, register, value, unit }
            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(name, forKey: .name)
                try container.encodeIfPresent(register, forKey: .register)
                try container.encode(value.text, forKey: .value)
                try container.encode(value.unit, forKey: .unit)
            }
        }

        static let tariffNames = ["total", "sharp", "peak", "flat", "valley"]

        /// The layout of this identifier's reply, when Courtyard knows it.
        public var format: [Field]? {
            func energy(_ name: String, _ register: String?) -> Field {
                Field(name: name, register: register, bytes: 4, scale: 2, unit: "kWh", signed: false)
            }
            let phases = ["a", "b", "c"]
            switch value {
            case 0x0000_0000: return [energy("combined_active_energy", "energy_combined")]
            case 0x0001_0000: return [energy("forward_active_energy", "energy_total")]
            case 0x0001_0100...0x0001_0400:
                let tariff = Self.tariffNames[Int(value >> 8 & 0xFF)]
                return [energy("forward_active_energy_\(tariff)", "tou_\(tariff)")]
            case 0x0001_FF00:
                return Self.tariffNames.map { energy("forward_active_energy_\($0)", $0 == "total" ? "energy_total" : "tou_\($0)") }
            case 0x0002_0000: return [energy("reverse_active_energy", "energy_reverse")]
            case 0x0201_0100...0x0201_0300:
                return [Field(name: "voltage_\(phases[Int(value >> 8 & 0xFF) - 1])", register: nil, bytes: 2, scale: 1, unit: "V", signed: false)]
            case 0x0201_FF00:
                return phases.map { Field(name: "voltage_\($0)", register: nil, bytes: 2, scale: 1, unit: "V", signed: false) }
            case 0x0202_0100...0x0202_0300:
                return [Field(name: "current_\(phases[Int(value >> 8 & 0xFF) - 1])", register: nil, bytes: 3, scale: 3, unit: "A", signed: true)]
            case 0x0202_FF00:
                return phases.map { Field(name: "current_\($0)", register: nil, bytes: 3, scale: 3, unit: "A", signed: true) }
            case 0x0203_0000...0x0203_0300:
                let which = Int(value >> 8 & 0xFF)
                return [Field(name: which == 0 ? "active_power" : "active_power_\(phases[which - 1])", register: nil, bytes: 3, scale: 4,
                              unit: "kW", signed: true)]
            case 0x0203_FF00:
                return (["total"] + phases).map {
                    Field(name: $0 == "total" ? "active_power" : "active_power_\($0)", register: nil, bytes: 3, scale: 4, unit: "kW", signed: true)
                }
            case 0x0280_0002: return [Field(name: "frequency", register: nil, bytes: 2, scale: 2, unit: "Hz", signed: false)]
            default: return nil
            }
        }

        /// Decodes a reply payload; nil for identifiers without a known format.
        public func values(in payload: [UInt8]) throws(FrameError) -> [Value]? {
            guard let format else { return nil }
            let needed = format.reduce(0) { $0 + $1.bytes }
            guard payload.count == needed else { throw .badLength(field: "payload of \(description)", expected: needed, found: payload.count) }
            var offset = 0
            var values: [Value] = []
            for field in format {
                guard let units = BCD.value(payload[offset..<(offset + field.bytes)], signed: field.signed) else {
                    throw .notBCD(field: field.name)
                }
                values.append(Value(name: field.name, register: field.register, value: MeterValue(units: units, scale: field.scale, unit: field.unit)))
                offset += field.bytes
            }
            return values
        }
    }
}
