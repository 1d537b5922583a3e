import CourtyardStorage
import Foundation
import SQLKit

/// Work that follows from what a device says about itself and from time passing, committed together with it, the way
/// ``ReadingEffects`` follows readings. Prepaid supply control is the one implementation today (an acknowledged valve
/// position, an alarm that locks the supply, a deferred cut-off falling due); barriers and door controllers join later.
///
/// The devices module owns the queue, the acks and the sweeps; it calls these inside its own transactions and never
/// knows what a command was for.
public protocol DeviceEffects: Sendable {
    /// A command's final answer (succeeded or failed), in the ack's transaction. A refusal is a ``DeviceError``.
    func completed(
        _ command: DeviceCommand, status: CommandLifecycle.AckStatus, error: String?, db: any SQLDatabase, engine: Database.Engine,
        now: Date) async throws
    /// A device's own report of its position and of an alarm, in its transaction. A refusal (a device with nothing to
    /// report to) is a ``DeviceError``.
    func reported(
        companyId: String, deviceId: String, position: SupplyPosition?, alarm: String?, db: any SQLDatabase, engine: Database.Engine,
        now: Date) async throws
    /// The dispatcher's periodic sweep, in its transaction: decisions that fell due with time.
    func sweep(_ db: any SQLDatabase, engine: Database.Engine, now: Date) async throws
}

/// Why a device's answer or report was refused: a stable code and the field at fault, as the API shows it.
public struct DeviceError: Error, Hashable, Sendable {
    /// Which answer the API gives: 422, 404 or 409.
    public enum Kind: Sendable, Hashable { case invalid, notFound, conflict }
    public var kind: Kind
    public var code: String
    public var field: String?
    public var message: String

    public init(_ kind: Kind, code: String, field: String?, _ message: String) {
        self.kind = kind
        self.code = code
        self.field = field
        self.message = message
    }
}
