import CourtyardMeterProtocols
import CourtyardStorage
import Foundation
import SQLKit

/// Readings from raw meter frames that a gateway (a DTU or concentrator) forwards: DL/T 645 replies and CJ/T 188 901F
/// replies, matched to devices by their protocol address.
public enum FrameIngestion {
    /// One forwarded frame.
    public struct Item: Decodable, Sendable {
        public var `protocol`: String
        public var hex: String
        /// When the frame was read; defaults to the meter's own clock (CJ/T 188) or the arrival time.
        public var measuredAt: String?
    }

    /// The readings a frame carries, or why it carries none.
    public static func readings(
        _ item: Item, index: Int
    ) -> Result<(address: String, protocol: String, readings: [(register: String, milli: Int64)], clock: MeterClock?), ReadingError> {
        let bytes: [UInt8]
        do { bytes = try Hex.bytes(item.hex) } catch { return .failure(ReadingError(error.code, field: "hex", error.description)) }
        switch item.protocol {
        case "dlt645":
            let message: DLT645.Message
            do { message = try DLT645.decode(bytes) } catch { return .failure(ReadingError(error.code, field: "hex", error.description)) }
            guard case .readReply(let address, let identifier, let values, _, _) = message, let values else {
                return .failure(ReadingError("no_reading_in_frame", field: "hex", "the frame is not a read reply with a known register"))
            }
            let registers = values.compactMap { value in value.register.flatMap { name in value.value?.milliUnits.map { (name, $0) } } }
            guard !registers.isEmpty else {
                return .failure(ReadingError("no_reading_in_frame", field: "hex", "data identifier \(identifier) carries no cumulative register"))
            }
            return .success((address.description, "dlt645", registers, nil))
        case "cjt188":
            let message: CJT188.Message
            do { message = try CJT188.decode(bytes) } catch { return .failure(ReadingError(error.code, field: "hex", error.description)) }
            guard case .currentData(let frame, _, _, let data) = message else {
                return .failure(ReadingError("no_reading_in_frame", field: "hex", "the frame is not a 901F current-data reply"))
            }
            let registers = FrameReport(message).registers.map { ($0.key, $0.value) }
            guard !registers.isEmpty else {
                return .failure(ReadingError("no_reading_in_frame", field: "hex", "the reply carries no cumulative flow in m³ or L"))
            }
            return .success((frame.address.description, "cjt188", registers, data.meterTime))
        default:
            return .failure(ReadingError("invalid_value", field: "protocol", "protocol is dlt645 or cjt188"))
        }
    }

    /// Device keys by protocol address within a company.
    public static func deviceKeys(_ db: any SQLDatabase, companyId: String, addresses: [String]) async throws -> [String: String] {
        guard !addresses.isEmpty else { return [:] }
        var keys: [String: String] = [:]
        for chunk in stride(from: 0, to: addresses.count, by: 500).map({ Array(addresses[$0..<min($0 + 500, addresses.count)]) }) {
            let rows = try await TenantSQL(db, scope: TenantScope(companyId: companyId))
                .select(
                    "device_key, address, protocol", from: "devices", where: "address IN (\(binds: chunk.map { $0 as any Encodable & Sendable }))"
                ).all()
            for row in rows {
                let address = try row.decode(column: "address", as: String.self)
                let proto = try row.decode(column: "protocol", as: String.self)
                keys["\(proto)|\(address)"] = try row.decode(column: "device_key", as: String.self)
            }
        }
        return keys
    }

    /// Parses, decodes and matches a batch of frames; each result carries the frame's index.
    public static func submissions(
        _ items: [Item], companyId: String, now: Int64, db: any SQLDatabase
    )
        async throws -> [(index: Int, result: Result<ReadingSubmission, ReadingError>)]
    {
        let decoded = items.enumerated().map { index, item in (index, item, readings(item, index: index)) }
        let addresses = Array(Set(decoded.compactMap { try? $0.2.get().address }))
        let keys = try await deviceKeys(db, companyId: companyId, addresses: addresses)
        var out: [(Int, Result<ReadingSubmission, ReadingError>)] = []
        for (index, item, result) in decoded {
            switch result {
            case .failure(let error): out.append((index, .failure(error)))
            case .success(let frame):
                guard let key = keys["\(frame.protocol)|\(frame.address)"] else {
                    out.append(
                        (
                            index,
                            .failure(
                                ReadingError(
                                    "unknown_address", field: "hex",
                                    "no \(frame.protocol) device has address \(frame.address)"))
                        ))
                    continue
                }
                var time: MeasuredTime
                if let text = item.measuredAt {
                    guard let parsed = ReadingParser.parseTime(text) else {
                        out.append((index, .failure(ReadingError("invalid_time", field: "measured_at", "use RFC 3339 or local YYYY-MM-DD HH:MM:SS"))))
                        continue
                    }
                    time = parsed
                } else if let clock = frame.clock {
                    time = .local(clock)
                } else {
                    time = .instant(milliseconds: now)
                }
                for (register, milli) in frame.readings.sorted(by: { $0.register < $1.register }) {
                    out.append((index, .success(ReadingSubmission(deviceKey: key, register: register, value: .cumulative(milli), time: time))))
                }
            }
        }
        return out
    }
}
