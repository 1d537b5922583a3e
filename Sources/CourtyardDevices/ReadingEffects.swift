import CourtyardStorage
import Foundation
import SQLKit

/// Work that must commit together with the readings it follows from (a prepaid deduction): the writer calls it inside
/// its transaction, so a reading is never accepted without its effect, nor charged twice.
public protocol ReadingEffects: Sendable {
    /// The devices whose readings have effects (loaded with the writer's memory; a change to this set must bump
    /// ``IngestGeneration`` in its transaction). Their readings take the SQLKit paths, never the raw one.
    func devices(_ db: any SQLDatabase) async throws -> Set<String>
    /// Applies the effects of `readings` (accepted just now, or revised by a late reading) of one company.
    func apply(_ db: any SQLDatabase, engine: Database.Engine, companyId: String, readings: [AcceptedReading], now: Date) async throws
    /// Called after the transaction that applied effects committed (to send what it queued).
    func committed() async
    /// Whether ``applyFast(_:readings:now:)`` can serve the writer's fast path.
    var supportsFastPath: Bool { get }
    /// The writer's fast path: applies the effects of one company's readings on the fast connection, inside its open
    /// transaction. Returns false when this batch needs the SQLKit path (a rare case the fast path does not decide); the
    /// fast path then rolls back.
    func applyFast(_ sql: TenantFastSQL, readings: [AcceptedReading], now: Date) throws -> Bool
}

extension ReadingEffects {
    public var supportsFastPath: Bool { false }
    public func applyFast(_ sql: TenantFastSQL, readings: [AcceptedReading], now: Date) throws -> Bool { false }
}

/// A reading just accepted with usage, or an earlier one whose usage a late reading revised.
public struct AcceptedReading: Sendable, Hashable {
    public var readingId: String
    public var device: KnownDevice
    public var register: String
    public var measuredAt: Int64
    public var usage: Int64
    /// For a revision: the usage the reading had before (its charge is recomputed for the difference).
    public var revisedFrom: Int64?

    public init(readingId: String, device: KnownDevice, register: String, measuredAt: Int64, usage: Int64, revisedFrom: Int64? = nil) {
        self.readingId = readingId
        self.device = device
        self.register = register
        self.measuredAt = measuredAt
        self.usage = usage
        self.revisedFrom = revisedFrom
    }
}
