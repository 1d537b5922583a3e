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

        public var description: String {
            [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)].map(Hex.byte).joined()
        }

        public static let combinedActiveEnergy = DataIdentifier(0x0000_0000)
        public static let forwardActiveEnergy = DataIdentifier(0x0001_0000)
        public static let forwardActiveEnergyBlock = DataIdentifier(0x0001_FF00)
        public static let reverseActiveEnergy = DataIdentifier(0x0002_0000)
        public static let totalActivePower = DataIdentifier(0x0203_0000)
        public static let frequency = DataIdentifier(0x0280_0002)

        /// How a field's bytes read (DL/T 645-2007 Appendix A data formats; every field BCD, low byte first).
        public enum Kind: Hashable, Sendable {
            /// A number with `scale` decimals in `unit`; `signed` numbers carry their sign in the top bit of the highest byte.
            case number(scale: Int, unit: String, signed: Bool)
            /// YYMMDDhhmm (5 bytes) or YYMMDDhhmmss (6 bytes), read as a local wall-clock time of the meter.
            case timestamp
            /// YYMMDDWW: the meter's date and weekday (0 is Sunday).
            case date
            /// hhmmss: the meter's time of day.
            case time
            /// Decimal digits, most significant first (addresses, meter numbers).
            case digits
        }

        /// One field of a reply: a named quantity, and the Courtyard register it feeds, if any.
        public struct Field: Hashable, Sendable {
            public var name: String
            /// The ingestion register (`energy_total`, `tou_peak`, …) or nil for instantaneous values.
            public var register: String?
            public var bytes: Int
            public var kind: Kind

            public init(name: String, register: String? = nil, bytes: Int, kind: Kind) {
                self.name = name; self.register = register; self.bytes = bytes; self.kind = kind
            }

            init(name: String, register: String?, bytes: Int, scale: Int, unit: String, signed: Bool) {
                self.init(name: name, register: register, bytes: bytes, kind: .number(scale: scale, unit: unit, signed: signed))
            }

            public var scale: Int { if case .number(let scale, _, _) = kind { return scale } else { return 0 } }
            public var unit: String { if case .number(_, let unit, _) = kind { return unit } else { return "" } }
        }

        /// A decoded field of a reply: a number (`value`) or a time, date or digits (`text`).
        public struct Value: Hashable, Sendable, Encodable {
            public var name: String
            public var register: String?
            public var value: MeterValue?
            public var text: String?

            public init(name: String, register: String?, value: MeterValue?, text: String? = nil) {
                self.name = name; self.register = register; self.value = value; self.text = text
            }

            enum CodingKeys: String, CodingKey { case name, register, value, unit }
            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(name, forKey: .name)
                try container.encodeIfPresent(register, forKey: .register)
                try container.encode(value?.text ?? text ?? "", forKey: .value)
                try container.encodeIfPresent(value?.unit, forKey: .unit)
            }
        }

        static let tariffNames = ["total", "sharp", "peak", "flat", "valley"]

        /// Energy and demand types by DI2 (Appendix A.1 and A.2): name, energy unit, demand unit, signed.
        static let energyTypes: [UInt8: (name: String, unit: String, demandUnit: String, signed: Bool)] = [
            0x00: ("combined_active", "kWh", "kW", true), 0x01: ("forward_active", "kWh", "kW", false),
            0x02: ("reverse_active", "kWh", "kW", false), 0x03: ("combined_reactive_1", "kvarh", "kvar", true),
            0x04: ("combined_reactive_2", "kvarh", "kvar", true), 0x05: ("reactive_q1", "kvarh", "kvar", false),
            0x06: ("reactive_q2", "kvarh", "kvar", false), 0x07: ("reactive_q3", "kvarh", "kvar", false),
            0x08: ("reactive_q4", "kvarh", "kvar", false), 0x09: ("forward_apparent", "kVAh", "kVA", false),
            0x0A: ("reverse_apparent", "kVAh", "kVA", false),
        ]

        /// The type and phase of an energy or demand DI2: 00–0A for totals, 15–1E, 29–32 and 3D–46 for phases A, B, C
        /// (per phase: forward and reverse active, combined reactive 1 and 2, the four quadrants, forward and reverse apparent).
        static func energyType(_ di2: UInt8) -> (name: String, unit: String, demandUnit: String, signed: Bool, phase: String?)? {
            if let type = energyTypes[di2] { return (type.name, type.unit, type.demandUnit, type.signed, nil) }
            for (base, phase) in [(UInt8(0x15), "a"), (0x29, "b"), (0x3D, "c")] where (base...(base + 9)).contains(di2) {
                guard let type = energyTypes[di2 - base + 1] else { return nil }
                return (type.name, type.unit, type.demandUnit, type.signed, phase)
            }
            return nil
        }

        /// The name of a tariff number: 0 total, 1–4 sharp, peak, flat, valley (尖峰平谷), then `tariff_n`.
        static func tariffName(_ index: Int) -> String { index < tariffNames.count ? tariffNames[index] : "tariff_\(index)" }

        /// The layout of this identifier's reply, when Courtyard knows it; `nil` for blocks whose length depends on the
        /// meter (see ``fields(forPayloadOf:)``) and for identifiers Courtyard does not read.
        public var format: [Field]? { fields(forPayloadOf: nil) }

        /// The fields of a reply of `count` bytes (blocks of tariffs or frozen data vary with the meter's tariff count).
        func fields(forPayloadOf count: Int?) -> [Field]? {
            let di3 = UInt8(value >> 24), di2 = UInt8(value >> 16 & 0xFF), di1 = UInt8(value >> 8 & 0xFF), di0 = UInt8(value & 0xFF)
            let phases = ["a", "b", "c"]
            func number(_ name: String, _ bytes: Int, _ scale: Int, _ unit: String, signed: Bool = false, register: String? = nil) -> Field {
                Field(name: name, register: register, bytes: bytes, scale: scale, unit: unit, signed: signed)
            }
            /// Fields of a per-phase family: DI1 01–03 one phase, FF the block; `total` adds DI1 00 (power, power factor).
            func phased(_ base: String, _ bytes: Int, _ scale: Int, _ unit: String, signed: Bool, total: Bool) -> [Field]? {
                let names = (total ? [base] : []) + phases.map { "\(base)_\($0)" }
                switch di1 {
                case 0x00 where total: return di0 == 0 ? [number(base, bytes, scale, unit, signed: signed)] : nil
                case 0x01...0x03 where di0 == 0: return [number("\(base)_\(phases[Int(di1) - 1])", bytes, scale, unit, signed: signed)]
                case 0xFF where di0 == 0: return names.map { number($0, bytes, scale, unit, signed: signed) }
                default: return nil
                }
            }
            switch di3 {
            case 0x00:
                // Local prepaid registers (费控): remaining and overdrawn energy and money.
                if di2 == 0x90 {
                    switch (di1, di0) {
                    case (0x01, 0x00): return [number("remaining_energy", 4, 2, "kWh")]
                    case (0x01, 0x01): return [number("overdraft_energy", 4, 2, "kWh")]
                    case (0x02, 0x00): return [number("remaining_money", 4, 2, "CNY")]
                    case (0x02, 0x01): return [number("overdraft_money", 4, 2, "CNY")]
                    default: return nil
                    }
                }
                guard let type = Self.energyType(di2), di0 <= 0x0C else { return nil }
                let prefix = type.phase.map { "phase_\($0)_" } ?? ""
                let settlement = di0 == 0 ? "" : "_settlement_\(di0)"
                func field(_ tariff: Int) -> Field {
                    let name = prefix + type.name + "_energy" + (tariff == 0 ? "" : "_\(Self.tariffName(tariff))") + settlement
                    // Only current readings of the whole meter feed registers; per-phase and settlement values are for display.
                    var register: String? = nil
                    if type.phase == nil, di0 == 0 {
                        switch type.name {
                        case "forward_active": register = tariff == 0 ? "energy_total" : "tou_\(Self.tariffName(tariff))"
                        case "combined_active" where tariff == 0: register = "energy_combined"
                        case "reverse_active" where tariff == 0: register = "energy_reverse"
                        default: break
                        }
                    }
                    return number(name, 4, 2, type.unit, signed: type.signed, register: register)
                }
                if di1 == 0xFF {
                    guard type.phase == nil else { return nil }
                    // Total and each tariff the meter has: the reply's length says how many (4 bytes each).
                    // A length that is not a whole number of fields still gets fields, so the length check names it.
                    let count = count.map { max(1, ($0 + 3) / 4) } ?? 5
                    guard (1...64).contains(count) else { return nil }
                    return (0..<count).map(field)
                }
                guard di1 <= 0x3F, type.phase == nil || di1 == 0 else { return nil }
                return [field(Int(di1))]
            case 0x01:
                // Maximum demand and when it occurred: XX.XXXX then YYMMDDhhmm.
                guard let type = Self.energyType(di2), di1 <= 0x3F, di0 <= 0x0C, type.phase == nil || di1 == 0 else { return nil }
                let name =
                    (type.phase.map { "phase_\($0)_" } ?? "") + type.name + "_max_demand"
                    + (di1 == 0 ? "" : "_\(Self.tariffName(Int(di1)))") + (di0 == 0 ? "" : "_settlement_\(di0)")
                return [number(name, 3, 4, type.demandUnit, signed: type.signed), Field(name: name + "_at", bytes: 5, kind: .timestamp)]
            case 0x02:
                switch di2 {
                case 0x01: return phased("voltage", 2, 1, "V", signed: false, total: false)
                case 0x02: return phased("current", 3, 3, "A", signed: true, total: false)
                case 0x03: return phased("active_power", 3, 4, "kW", signed: true, total: true)
                case 0x04: return phased("reactive_power", 3, 4, "kvar", signed: true, total: true)
                case 0x05: return phased("apparent_power", 3, 4, "kVA", signed: true, total: true)
                case 0x06: return phased("power_factor", 2, 3, "", signed: true, total: true)
                case 0x07: return phased("phase_angle", 2, 1, "°", signed: false, total: false)
                case 0x08: return phased("voltage_distortion", 2, 2, "%", signed: false, total: false)
                case 0x09: return phased("current_distortion", 2, 2, "%", signed: false, total: false)
                case 0x80 where di1 == 0x00:
                    switch di0 {
                    case 0x01: return [number("neutral_current", 3, 3, "A", signed: true)]
                    case 0x02: return [number("frequency", 2, 2, "Hz")]
                    case 0x03: return [number("average_active_power_1min", 3, 4, "kW", signed: true)]
                    case 0x04: return [number("active_demand", 3, 4, "kW", signed: true)]
                    case 0x05: return [number("reactive_demand", 3, 4, "kvar", signed: true)]
                    case 0x06: return [number("apparent_demand", 3, 4, "kVA", signed: true)]
                    case 0x07: return [number("meter_temperature", 2, 1, "°C", signed: true)]
                    case 0x08: return [number("clock_battery_voltage", 2, 2, "V")]
                    case 0x09: return [number("reading_battery_voltage", 2, 2, "V")]
                    case 0x0A: return [number("battery_working_time", 4, 0, "min")]
                    case 0x0B: return [number("current_step_price", 4, 4, "CNY/kWh")]
                    default: return nil
                    }
                default: return nil
                }
            case 0x03:
                switch (di2, di1) {
                case (0x11, 0x00):
                    // Power failures (掉电): the count, then each of the last ten with its start and end.
                    if di0 == 0 { return [number("power_failure_count", 3, 0, "")] }
                    guard (0x01...0x0A).contains(di0) else { return nil }
                    return [
                        Field(name: "power_failure_\(di0)_start", bytes: 6, kind: .timestamp),
                        Field(name: "power_failure_\(di0)_end", bytes: 6, kind: .timestamp),
                    ]
                case (0x30, 0x0D), (0x30, 0x0E):
                    // Meter cover (开表盖) and terminal cover (开端钮盒) openings: the count, then each of the last ten with
                    // its start, its end, and the active and four-quadrant reactive totals before and after.
                    let what = di1 == 0x0D ? "cover_open" : "terminal_cover_open"
                    if di0 == 0 { return [number("\(what)_count", 3, 0, "")] }
                    guard (0x01...0x0A).contains(di0) else { return nil }
                    let energies = ["forward_active", "reverse_active", "reactive_q1", "reactive_q2", "reactive_q3", "reactive_q4"]
                    return [
                        Field(name: "\(what)_\(di0)_start", bytes: 6, kind: .timestamp),
                        Field(name: "\(what)_\(di0)_end", bytes: 6, kind: .timestamp),
                    ]
                        + energies.map { number("\(what)_\(di0)_\($0)_before", 4, 2, $0.hasPrefix("reactive") ? "kvarh" : "kWh") }
                        + energies.map { number("\(what)_\(di0)_\($0)_after", 4, 2, $0.hasPrefix("reactive") ? "kvarh" : "kWh") }
                default: return nil
                }
            case 0x04:
                switch value {
                case 0x0400_0101: return [Field(name: "date", bytes: 4, kind: .date)]
                case 0x0400_0102: return [Field(name: "time", bytes: 3, kind: .time)]
                case 0x0400_0401: return [Field(name: "address", bytes: 6, kind: .digits)]
                case 0x0400_0402: return [Field(name: "meter_number", bytes: 6, kind: .digits)]
                default: return nil
                }
            case 0x05:
                // Daily frozen data (日冻结), the n-th day back (DI0 01–3E): its time, and forward and reverse active
                // energy of the total and each tariff.
                guard di2 == 0x06, (0x01...0x3E).contains(di0) else { return nil }
                switch di1 {
                case 0x00: return [Field(name: "daily_freeze_\(di0)_at", bytes: 5, kind: .timestamp)]
                case 0x01, 0x02:
                    let kind = di1 == 0x01 ? "forward_active" : "reverse_active"
                    let count = count.map { max(1, ($0 + 3) / 4) } ?? 5
                    guard (1...64).contains(count) else { return nil }
                    return (0..<count).map { number("daily_freeze_\(di0)_\(kind)_energy" + ($0 == 0 ? "" : "_\(Self.tariffName($0))"), 4, 2, "kWh") }
                default: return nil
                }
            default:
                return nil
            }
        }

        /// Decodes a reply payload; nil for identifiers without a known format.
        public func values(in payload: [UInt8]) throws(FrameError) -> [Value]? {
            guard let format = fields(forPayloadOf: payload.count) else { return nil }
            let needed = format.reduce(0) { $0 + $1.bytes }
            guard payload.count == needed else { throw .badLength(field: "payload of \(description)", expected: needed, found: payload.count) }
            var offset = 0
            var values: [Value] = []
            for field in format {
                let bytes = payload[offset..<(offset + field.bytes)]
                switch field.kind {
                case .number(let scale, let unit, let signed):
                    guard let units = BCD.value(bytes, signed: signed) else { throw .notBCD(field: field.name) }
                    values.append(Value(name: field.name, register: field.register, value: MeterValue(units: units, scale: scale, unit: unit)))
                case .timestamp, .date, .time, .digits:
                    guard let text = Self.text(bytes, kind: field.kind) else { throw .notBCD(field: field.name) }
                    values.append(Value(name: field.name, register: nil, value: nil, text: text))
                }
                offset += field.bytes
            }
            return values
        }

        /// A time, date or digits field as text: "2026-11-22 10:05:00", "2026-11-22 (weekday 0)", "10:05:00", "000000000001".
        static func text(_ bytes: ArraySlice<UInt8>, kind: Kind) -> String? {
            let pairs = bytes.reversed().map(BCD.digits)  // most significant first
            guard pairs.allSatisfy({ $0 != nil }) else { return nil }
            let d = pairs.map { $0 ?? 0 }
            func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
            switch kind {
            case .timestamp:
                guard d.count >= 5, (1...12).contains(d[1]), (1...31).contains(d[2]), d[3] < 24, d[4] < 60, d.count < 6 || d[5] < 60 else {
                    return nil
                }
                return "20\(two(d[0]))-\(two(d[1]))-\(two(d[2])) \(two(d[3])):\(two(d[4]))" + (d.count >= 6 ? ":\(two(d[5]))" : "")
            case .date:
                guard d.count == 4, (1...12).contains(d[1]), (1...31).contains(d[2]), d[3] <= 6 else { return nil }
                return "20\(two(d[0]))-\(two(d[1]))-\(two(d[2])) (weekday \(d[3]))"
            case .time:
                guard d.count == 3, d[0] < 24, d[1] < 60, d[2] < 60 else { return nil }
                return "\(two(d[0])):\(two(d[1])):\(two(d[2]))"
            case .digits:
                return d.map(two).joined()
            case .number:
                return nil
            }
        }
    }
}
