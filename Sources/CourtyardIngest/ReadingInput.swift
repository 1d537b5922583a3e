import CourtyardDomain
import CourtyardMeterProtocols
import Foundation

/// Why one reading of a batch was refused before it reached the store: a stable code and the field at fault.
public struct ReadingError: Error, Hashable, Sendable {
    public var code: String
    public var field: String?
    public var message: String

    public init(_ code: String, field: String?, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }
}

/// When a reading was measured: an instant, or a wall-clock time of the device's community (the common device format).
public enum MeasuredTime: Hashable, Sendable {
    case instant(milliseconds: Int64)
    case local(MeterClock)
}

/// What a reading says.
public enum ReadingValue: Hashable, Sendable {
    /// A cumulative register (kWh, m³ …) in milli-units; usage is the difference to the previous reading.
    case cumulative(Int64)
    /// Usage over the interval ending at the reading (`{"deviceId", "usage", "time"}`), in milli-units.
    case interval(Int64)

    var milliUnits: Int64 {
        switch self {
        case .cumulative(let value), .interval(let value): value
        }
    }
}

/// One reading as a device, gateway or IoT platform sent it, checked for form but not yet matched to a device.
public struct ReadingSubmission: Hashable, Sendable {
    public var deviceKey: String
    /// `energy_total`, `tou_peak`, `volume_total`, … or `usage` for interval usage.
    public var register: String
    public var value: ReadingValue
    public var time: MeasuredTime
    public var messageId: String?

    public init(deviceKey: String, register: String, value: ReadingValue, time: MeasuredTime, messageId: String? = nil) {
        self.deviceKey = deviceKey
        self.register = register
        self.value = value
        self.time = time
        self.messageId = messageId
    }

    /// The register name interval usage is stored under.
    public static let intervalRegister = "usage"
}

/// Reads the JSON of `POST /api/v1/readings`: one object or an array of up to ``maximumBatch``, in either format.
///
/// Common device format: `{"deviceId": "water_meter_102", "usage": 15, "time": "2025-10-22 00:00:00"}` (interval
/// usage; a time without offset is the community's local time). Register format: `{"device_id", "register",
/// "reading": "12345.67", "measured_at": "2026-10-01T00:00:00Z", "message_id"}`. Numbers may be JSON numbers or
/// strings and are read exactly (never through binary floating point), to three decimals.
public enum ReadingParser {
    public static let maximumBatch = 5_000
    /// The largest reading or usage accepted, in milli-units (999,999,999,999.999).
    public static let maximumMilliUnits: Int64 = 999_999_999_999_999

    /// Why the body as a whole was refused.
    public enum BodyError: Error, Hashable, Sendable {
        case malformedJSON(String)
        case empty
        case tooMany(Int)
    }

    /// One result per item, in order.
    ///
    /// - Parameter defaultDevice: the device id for items that carry none (MQTT names the device in the topic).
    public static func parse(_ body: Data, defaultDevice: String? = nil) throws(BodyError) -> [Result<ReadingSubmission, ReadingError>] {
        let read: Result<(elements: [ReadingJSON.Element], count: Int, isArray: Bool), ReadingJSON.Malformed> = body.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            do throws(ReadingJSON.Malformed) {
                return .success(try ReadingJSON.read(bytes, limit: maximumBatch))
            } catch {
                return .failure(error)
            }
        }
        let (elements, count, isArray): ([ReadingJSON.Element], Int, Bool)
        switch read {
        case .success(let value): (elements, count, isArray) = value
        case .failure(let error): throw .malformedJSON(error.message)
        }
        if isArray {
            guard count > 0 else { throw .empty }
            guard count <= maximumBatch else { throw .tooMany(count) }
        }
        return elements.map { element in
            let fields: ReadingJSON.Fields
            switch element {
            case .object(let object): fields = object
            case .notAnObject: return .failure(ReadingError("invalid_item", field: nil, "each reading must be a JSON object"))
            case .repeated(let key):
                return .failure(ReadingError("duplicate_field", field: key.rawValue, "the reading gives \(key.rawValue) more than once"))
            }
            do throws(ReadingError) {
                return .success(try submission(fields, defaultDevice: defaultDevice))
            } catch {
                return .failure(error)
            }
        }
    }

    /// The fields a reading object may have (and their spellings in the two formats).
    enum Key: String, CaseIterable {
        case deviceId, device_id, usage, time, register, reading, measured_at, measuredAt, message_id, messageId, device_key

        /// Position in ``allCases`` (the slot of ``ReadingJSON/Fields``).
        var index: Int {
            switch self {
            case .deviceId: 0
            case .device_id: 1
            case .usage: 2
            case .time: 3
            case .register: 4
            case .reading: 5
            case .measured_at: 6
            case .measuredAt: 7
            case .message_id: 8
            case .messageId: 9
            case .device_key: 10
            }
        }

        private static let names: [(Key, [UInt8])] = allCases.map { ($0, Array($0.rawValue.utf8)) }

        /// The field whose name is exactly `bytes` (an unescaped member name), if any.
        static func matching(_ bytes: UnsafeBufferPointer<UInt8>) -> Key? {
            for (key, name) in names where name.count == bytes.count && name.elementsEqual(bytes) { return key }
            return nil
        }
    }

    static func text(_ fields: ReadingJSON.Fields, _ keys: [Key]) throws(ReadingError) -> (String, Key)? {
        for key in keys {
            switch fields[key] {
            case nil, .null?: continue
            case .string(let value)?:
                // No control characters in ids, registers or times (a NUL cannot even be stored by PostgreSQL).
                guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                    throw ReadingError("control_character", field: key.rawValue, "\(key.rawValue) contains a control character")
                }
                return (value, key)
            case .number?, .other?: throw ReadingError("invalid_type", field: key.rawValue, "\(key.rawValue) must be a string")
            }
        }
        return nil
    }

    static func number(_ fields: ReadingJSON.Fields, _ key: Key) throws(ReadingError) -> Int64? {
        let text: String
        switch fields[key] {
        case nil, .null?: return nil
        case .string(let value)?, .number(let value)?: text = value
        case .other?: throw ReadingError("invalid_number", field: key.rawValue, "\(key.rawValue) must be a decimal number")
        }
        let milli: Int64
        do { milli = try FixedPoint.parse(text, scale: 3) } catch {
            switch error {
            case .tooManyFractionDigits:
                throw ReadingError("too_precise", field: key.rawValue, "\(key.rawValue) has more than 3 decimals")
            case .outOfRange:
                throw ReadingError("out_of_range", field: key.rawValue, "\(key.rawValue) is too large")
            case .notANumber:
                throw ReadingError("invalid_number", field: key.rawValue, "\(key.rawValue) must be a decimal number, got \"\(text.prefix(40))\"")
            }
        }
        guard milli >= 0 else {
            throw ReadingError("negative_value", field: key.rawValue, "\(key.rawValue) must not be negative")
        }
        // No meter register has more than twelve integer digits; the bound keeps every sum of readings far from overflow.
        guard milli <= ReadingParser.maximumMilliUnits else {
            throw ReadingError("out_of_range", field: key.rawValue, "\(key.rawValue) is at most 999999999999.999")
        }
        return milli
    }

    static func submission(_ fields: ReadingJSON.Fields, defaultDevice: String?) throws(ReadingError) -> ReadingSubmission {
        // `device_key` names the key a device reports under, as everywhere else in the API (where `device_id` is the
        // device's UUID). Reading bodies have always called the key `device_id` (or `deviceId`), and meters in the field
        // keep sending that: both stay accepted here, as spellings of the key, and two different keys are refused.
        var given: [(String, Key)] = []
        for key in [Key.device_key, .device_id, .deviceId] {
            if let found = try text(fields, [key]) { given.append(found) }
        }
        if let first = given.first, let other = given.dropFirst().first(where: { $0.0 != first.0 }) {
            throw ReadingError(
                "ambiguous_device", field: other.1.rawValue,
                "\(first.1.rawValue) and \(other.1.rawValue) name different devices; send device_key only")
        }
        guard let (device, deviceField) = given.first ?? defaultDevice.map({ ($0, Key.device_key) }) else {
            throw ReadingError(
                "missing_field", field: "device_key", "device_key (the device's key; device_id or deviceId in older bodies) is required")
        }
        guard !device.isEmpty, device.utf8.count <= 128 else {
            throw ReadingError("invalid_device_id", field: deviceField.rawValue, "the device id must be 1 to 128 characters")
        }
        let messageId = try text(fields, [.message_id, .messageId])?.0
        if let messageId, messageId.isEmpty || messageId.utf8.count > 128 {
            throw ReadingError("invalid_message_id", field: "message_id", "message_id must be 1 to 128 characters")
        }
        guard let (timeText, timeField) = try text(fields, [.measured_at, .measuredAt, .time]) else {
            throw ReadingError("missing_field", field: "measured_at", "measured_at (or time) is required")
        }
        guard let time = parseTime(timeText) else {
            throw ReadingError(
                "invalid_time", field: timeField.rawValue,
                "use RFC 3339 (2026-10-01T08:00:00Z, +08:00) or local \"YYYY-MM-DD HH:MM:SS\"")
        }
        if let usage = try number(fields, .usage) {
            if fields[.reading] != nil {
                throw ReadingError("ambiguous_reading", field: "usage", "send either usage or reading, not both")
            }
            return ReadingSubmission(
                deviceKey: device, register: ReadingSubmission.intervalRegister, value: .interval(usage),
                time: time, messageId: messageId)
        }
        guard let reading = try number(fields, .reading) else {
            throw ReadingError("missing_field", field: "reading", "a reading (cumulative register) or usage is required")
        }
        let register = try text(fields, [.register])?.0 ?? "energy_total"
        guard isRegisterName(register), register != ReadingSubmission.intervalRegister else {
            throw ReadingError("invalid_register", field: "register", "register must be 1 to 32 of a-z, 0-9 and _, e.g. energy_total")
        }
        return ReadingSubmission(deviceKey: device, register: register, value: .cumulative(reading), time: time, messageId: messageId)
    }

    static func isRegisterName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 32
            && text.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || $0 == UInt8(ascii: "_")
            }
    }

    /// RFC 3339 with `Z` or an offset (fractional seconds to milliseconds), or a local `YYYY-MM-DD HH:MM:SS`.
    public static func parseTime(_ text: String) -> MeasuredTime? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10), let hour = digits(11..<13),
            let minute = digits(14..<16), let second = digits(17..<19),
            let clock = MeterClock(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        var index = 19
        var millis = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var places = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                if places < 3 { millis = millis * 10 + Int(bytes[index] - 0x30) }
                places += 1
                index += 1
            }
            guard places > 0 else { return nil }
            for _ in min(places, 3)..<3 { millis *= 10 }
        }
        if index == bytes.count {
            return millis == 0 ? .local(clock) : nil
        }
        var offsetSeconds = 0
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            guard index + 1 == bytes.count else { return nil }
        } else {
            guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"), index + 6 == bytes.count,
                bytes[index + 3] == UInt8(ascii: ":"), let hours = digits((index + 1)..<(index + 3)),
                let minutes = digits((index + 4)..<(index + 6)), hours < 24, minutes < 60
            else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        }
        return .instant(milliseconds: (CivilTime.epochSeconds(clock) - Int64(offsetSeconds)) * 1000 + Int64(millis))
    }
}
