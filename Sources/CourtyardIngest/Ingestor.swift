import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation

/// The one normalization path every transport shares (HTTP, signed webhook, MQTT, gateway frames):
/// match devices within the caller's company, resolve local times, refuse what cannot be right, and store the rest
/// through the group-commit writer.
public struct Ingestor: Sendable {
    /// The answer for one item of a batch.
    public struct ItemResult: Codable, Hashable, Sendable {
        public var index: Int
        /// `accepted`, `duplicate`, `held_for_review` or `rejected`.
        public var status: String
        public var readingId: String?
        public var heldId: String?
        /// The usage this reading adds, as decimal text (absent for the first reading of a register).
        public var usage: String?
        public var code: String?
        public var field: String?
        public var message: String?

        public init(
            index: Int, status: String, readingId: String? = nil, heldId: String? = nil, usage: String? = nil,
            code: String? = nil, field: String? = nil, message: String? = nil
        ) {
            self.index = index; self.status = status; self.readingId = readingId; self.heldId = heldId; self.usage = usage
            self.code = code; self.field = field; self.message = message
        }
    }

    /// How far ahead of the server's clock a measurement may be (device clocks drift).
    public static let futureToleranceMilliseconds: Int64 = 5 * 60_000

    public let directory: DeviceDirectory
    public let writer: ReadingWriter
    public let clock: any WallClock
    /// What commits with accepted readings, if anything (the review queue applies it to approvals too).
    public let effects: (any ReadingEffects)?

    public init(database: Database, clock: any WallClock = SystemClock(), effects: (any ReadingEffects)? = nil) {
        self.effects = effects
        self.directory = DeviceDirectory(database: database)
        self.writer = ReadingWriter(database: database, clock: clock, effects: effects)
        self.clock = clock
    }

    /// Ingests parsed items for `companyId`.
    ///
    /// - Parameters:
    ///   - onlyDevice: when a device authenticates with its own token, the only device key it may report for.
    ///   - communities: when the caller is limited to some communities, devices elsewhere are unknown to it.
    public func ingest(
        companyId: String, items: [Result<ReadingSubmission, ReadingError>], source: String,
        onlyDevice: String? = nil, communities: Set<String>? = nil, origin: String = "device",
        enteredBy: String? = nil, note: String? = nil, photoRef: String? = nil
    ) async throws -> [ItemResult] {
        let now = clock.now().epochMilliseconds
        let keys = Set(items.compactMap { try? $0.get().deviceKey })
        let devices = try await directory.devices(companyId: companyId, keys: keys, now: now)
        var results = [ItemResult?](repeating: nil, count: items.count)
        var resolved: [(Int, ResolvedReading)] = []
        resolved.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            switch resolve(item, devices: devices, now: now, source: source, onlyDevice: onlyDevice, communities: communities) {
            case .success(var reading):
                reading.origin = origin
                reading.enteredBy = enteredBy
                reading.note = note
                reading.photoRef = photoRef
                resolved.append((index, reading))
            case .failure(let error):
                results[index] = ItemResult(index: index, status: "rejected", code: error.code, field: error.field, message: error.message)
            }
        }
        let outcomes = try await writer.submit(companyId: companyId, resolved.map(\.1))
        for ((index, _), outcome) in zip(resolved, outcomes) {
            results[index] = Self.result(index: index, outcome)
        }
        return results.map { $0! }
    }

    public static func result(index: Int, _ outcome: ReadingOutcome) -> ItemResult {
        switch outcome {
        case .accepted(let id, let usage):
            ItemResult(index: index, status: outcome.status, readingId: id, usage: usage.map { FixedPoint.format($0, scale: 3) })
        case .duplicate(let id):
            ItemResult(index: index, status: outcome.status, readingId: id)
        case .held(let id, let reason, let detail):
            ItemResult(index: index, status: outcome.status, heldId: id, code: reason, message: detail)
        case .rejected(let error):
            ItemResult(index: index, status: outcome.status, code: error.code, field: error.field, message: error.message)
        }
    }

    func resolve(
        _ item: Result<ReadingSubmission, ReadingError>, devices: [String: KnownDevice], now: Int64, source: String,
        onlyDevice: String?, communities: Set<String>?
    ) -> Result<ResolvedReading, ReadingError> {
        let submission: ReadingSubmission
        switch item {
        case .failure(let error): return .failure(error)
        case .success(let value): submission = value
        }
        if let onlyDevice, onlyDevice != submission.deviceKey {
            return .failure(ReadingError("device_mismatch", field: "device_key", "this token may only report for device \(onlyDevice)"))
        }
        guard let device = devices[submission.deviceKey], communities.map({ $0.contains(device.communityId) }) ?? true else {
            return .failure(ReadingError("unknown_device", field: "device_key", "no device \(submission.deviceKey) is registered"))
        }
        guard device.kind.isMeter else {
            return .failure(ReadingError("not_a_meter", field: "device_key", "\(submission.deviceKey) is a \(device.kind.rawValue), not a meter"))
        }
        guard device.status != .retired else {
            return .failure(ReadingError("device_retired", field: "device_key", "\(submission.deviceKey) is retired"))
        }
        let measuredAt: Int64 =
            switch submission.time {
            case .instant(let milliseconds): milliseconds
            case .local(let clock): CivilTime.instant(clock, in: device.timeZone)
            }
        guard measuredAt <= now + Self.futureToleranceMilliseconds else {
            return .failure(
                ReadingError(
                    "reading_in_future", field: "measured_at",
                    "measured_at is more than 5 minutes ahead of the server's clock"))
        }
        return .success(
            ResolvedReading(
                device: device, register: submission.register, value: submission.value, measuredAt: measuredAt,
                receivedAt: now, messageId: submission.messageId, source: source))
    }
}
